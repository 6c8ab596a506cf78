-- Accounts for the demo: the application, Tern's control plane, replication.
CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'app_pw';
GRANT ALL PRIVILEGES ON *.* TO 'app'@'%';
CREATE USER IF NOT EXISTS 'tern_admin'@'%' IDENTIFIED BY 'tern_admin_pw';
GRANT ALL PRIVILEGES ON *.* TO 'tern_admin'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl_pw';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, REPLICATION SLAVE ADMIN ON *.* TO 'repl'@'%';
