#!/usr/bin/perl
# DBD::MariaDB battery for Tern's client matrix: prints a deterministic report
# of what the driver sees, so that a run against the primary and a run through
# Tern can be compared line by line.
#
#   perl compat_dbd_mariadb.pl HOST PORT USER PASSWORD SCHEMA
#
# SCHEMA is created (dropped first if present) and dropped at the end; the
# report never prints it.
use strict;
use warnings;
use DBI;

my ($host, $port, $user, $password, $schema) = @ARGV;
binmode STDOUT, ':encoding(UTF-8)';

sub out {
    my ($line) = @_;
    $line =~ s/\Q$schema\E/<schema>/g;
    print "$line\n";
}

sub show {
    my ($v) = @_;
    return 'NULL' unless defined $v;
    return $v;
}

sub err {
    my ($what, $h) = @_;
    out("$what error=" . show($h->err) . " state=" . show($h->state) . " message=" . show($h->errstr));
}

sub rows {
    my ($what, $sth) = @_;
    my $n = 0;
    while (my $r = $sth->fetchrow_arrayref) {
        out('  row ' . join(' | ', map { show($_) } @$r));
        $n++;
    }
    out("$what rows=$n");
}

my $dsn = "DBI:MariaDB:host=$host;port=$port";
my %attrs = (RaiseError => 0, PrintError => 0, AutoCommit => 1);
my $admin = DBI->connect($dsn, $user, $password, \%attrs) or die $DBI::errstr;
$admin->do("DROP DATABASE IF EXISTS $schema") or die $admin->errstr;
$admin->do("CREATE DATABASE $schema") or die $admin->errstr;
$admin->disconnect;

for my $server_prepare (0, 1) {
    out("== mariadb_server_prepare=$server_prepare");
    my $dbh = DBI->connect("$dsn;database=$schema;mariadb_server_prepare=$server_prepare",
        $user, $password, \%attrs) or die $DBI::errstr;
    out("server_prepare attribute " . $dbh->{mariadb_server_prepare});
    my $t = "t$server_prepare";
    $dbh->do("CREATE TABLE $t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE,"
        . " amount DECIMAL(8,3), note TEXT CHARACTER SET utf8mb4, raw VARBINARY(4))") or die $dbh->errstr;

    my $ins = $dbh->prepare("INSERT INTO $t (name, amount, note, raw) VALUES (?, ?, ?, ?)")
        or die $dbh->errstr;
    out("insert params " . $ins->{NUM_OF_PARAMS});
    for my $i (1 .. 3) {
        my $n = $ins->execute("p$i", "$i.125", $i == 2 ? undef : "n\x{e9}$i", pack('C*', 0, $i));
        out("insert $i rows=$n insertid=" . $dbh->last_insert_id(undef, undef, undef, undef));
    }

    my $sel = $dbh->prepare("SELECT id, name, amount, note, HEX(raw), amount * 2 AS twice FROM $t WHERE id >= ? ORDER BY id")
        or die $dbh->errstr;
    for my $from (2, 1) {
        $sel->execute($from) or die $sel->errstr;
        out("select fields " . join(',', @{ $sel->{NAME} }) . " types " . join(',', @{ $sel->{TYPE} })
            . " nullable " . join(',', @{ $sel->{NULLABLE} }) . " precision " . join(',', map { show($_) } @{ $sel->{PRECISION} })
            . " scale " . join(',', map { show($_) } @{ $sel->{SCALE} }));
        rows("select from $from", $sel);
    }

    # A transaction: one rolled back, one committed.
    $dbh->begin_work or die $dbh->errstr;
    $ins->execute('rolled', 1, 'x', 'x') or die $ins->errstr;
    $dbh->rollback or die $dbh->errstr;
    $dbh->begin_work or die $dbh->errstr;
    $ins->execute('kept', 2, 'y', 'y') or die $ins->errstr;
    $dbh->commit or die $dbh->errstr;
    my $check = $dbh->prepare("SELECT name FROM $t WHERE name IN ('rolled', 'kept')");
    $check->execute or die $check->errstr;
    rows("after transactions", $check);

    # Errors: duplicate key through a prepared statement and do(), a syntax
    # error, an unknown table.
    my $r = $ins->execute('p1', 0, undef, undef);
    err("prepared duplicate", $ins);
    $r = $dbh->do("INSERT INTO $t (id, name) VALUES (1, 'q')");
    err("do duplicate", $dbh);
    $r = $dbh->do("SELEC 1");
    err("syntax", $dbh);
    my $bad = $dbh->prepare("SELECT * FROM no_such_table WHERE id = ?");
    if ($bad) {
        $bad->execute(1);
        err("unknown table (at execute)", $bad);
    } else {
        err("unknown table (at prepare)", $dbh);
    }
    my $w = $dbh->selectall_arrayref("SELECT CAST('5x' AS INT)");
    out("warning select " . $w->[0][0] . " warnings " . $dbh->{mariadb_warning_count});
    $dbh->disconnect;
}

$admin = DBI->connect($dsn, $user, $password, \%attrs) or die $DBI::errstr;
$admin->do("DROP DATABASE $schema") or die $admin->errstr;
$admin->disconnect;
out("done");
