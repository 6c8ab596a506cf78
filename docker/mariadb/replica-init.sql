-- Follow the primary by GTID from its start; accounts arrive by replication.
-- The image's own set-up wrote local transactions: forget them, or they would
-- clash with the primary's GTIDs.
RESET MASTER;
SET GLOBAL gtid_slave_pos = '';
CHANGE MASTER TO MASTER_HOST = 'primary', MASTER_PORT = 3306, MASTER_USER = 'repl',
  MASTER_PASSWORD = 'repl_pw', MASTER_USE_GTID = slave_pos;
START SLAVE;
