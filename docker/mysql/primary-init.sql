-- Accounts for the demo: the application, Tern's control plane, replication.
CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED WITH mysql_native_password BY 'app_pw';
GRANT ALL PRIVILEGES ON app.* TO 'app'@'%';
CREATE USER IF NOT EXISTS 'tern_admin'@'%' IDENTIFIED WITH mysql_native_password BY 'tern_admin_pw';
GRANT ALL PRIVILEGES ON *.* TO 'tern_admin'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED WITH mysql_native_password BY 'repl_pw';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%';
