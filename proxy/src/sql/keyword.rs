//! The words the statement readers react to (the classifier, the ALTER
//! reader), found with one hash probe per word.
//!
//! A `match` on byte-string literals compiles to a chain of comparisons, one
//! per arm; with ~180 keywords that costs more than the rest of a short
//! statement. The open-addressing table below is built at compile time and
//! hashed on the length and three bytes of the word, so a lookup is one
//! multiplication plus, almost always, one comparison (the longest probe
//! sequence is three slots). A hash over every byte is a chain of dependent
//! multiplications and was a quarter of the classifier's time.

/// Declares the keyword enum and its spellings side by side, so the two
/// cannot drift apart.
macro_rules! keywords {
    ($($variant:ident $text:literal,)*) => {
        /// A word a statement reader knows. `None` for every other word.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Kw {
            None,
            $($variant,)*
        }

        const KEYWORDS: &[(&[u8], Kw)] = &[$(($text, Kw::$variant),)*];
    };
}

keywords! {
    Add b"ADD",
    Aggregate b"AGGREGATE",
    Algorithm b"ALGORITHM",
    Alter b"ALTER",
    Analyze b"ANALYZE",
    And b"AND",
    As b"AS",
    Atomic b"ATOMIC",
    Begin b"BEGIN",
    By b"BY",
    Call b"CALL",
    Case b"CASE",
    Chain b"CHAIN",
    Change b"CHANGE",
    Character b"CHARACTER",
    Charset b"CHARSET",
    Check b"CHECK",
    Checksum b"CHECKSUM",
    Coalesce b"COALESCE",
    Column b"COLUMN",
    Commit b"COMMIT",
    Concurrent b"CONCURRENT",
    Constraint b"CONSTRAINT",
    Convert b"CONVERT",
    Create b"CREATE",
    Cross b"CROSS",
    Data b"DATA",
    Deallocate b"DEALLOCATE",
    Default b"DEFAULT",
    Definer b"DEFINER",
    Delayed b"DELAYED",
    Delete b"DELETE",
    Desc b"DESC",
    Describe b"DESCRIBE",
    Discard b"DISCARD",
    Do b"DO",
    Drop b"DROP",
    Dual b"DUAL",
    Duplicate b"DUPLICATE",
    End b"END",
    Engine b"ENGINE",
    Event b"EVENT",
    Except b"EXCEPT",
    Exchange b"EXCHANGE",
    Execute b"EXECUTE",
    Exists b"EXISTS",
    Explain b"EXPLAIN",
    Export b"EXPORT",
    Extended b"EXTENDED",
    False b"FALSE",
    Flush b"FLUSH",
    For b"FOR",
    Force b"FORCE",
    Foreign b"FOREIGN",
    Format b"FORMAT",
    FoundRows b"FOUND_ROWS",
    From b"FROM",
    Full b"FULL",
    Fulltext b"FULLTEXT",
    Function b"FUNCTION",
    GetLock b"GET_LOCK",
    Global b"GLOBAL",
    Grant b"GRANT",
    Group b"GROUP",
    Handler b"HANDLER",
    Having b"HAVING",
    Help b"HELP",
    HighPriority b"HIGH_PRIORITY",
    If b"IF",
    Ignore b"IGNORE",
    Import b"IMPORT",
    In b"IN",
    Index b"INDEX",
    Inner b"INNER",
    Insert b"INSERT",
    Intersect b"INTERSECT",
    Into b"INTO",
    Join b"JOIN",
    Key b"KEY",
    Kill b"KILL",
    LastInsertId b"LAST_INSERT_ID",
    Lastval b"LASTVAL",
    Lateral b"LATERAL",
    Left b"LEFT",
    Like b"LIKE",
    Limit b"LIMIT",
    Load b"LOAD",
    Local b"LOCAL",
    Lock b"LOCK",
    Loop b"LOOP",
    LowPriority b"LOW_PRIORITY",
    Modify b"MODIFY",
    Names b"NAMES",
    Natural b"NATURAL",
    Next b"NEXT",
    Nextval b"NEXTVAL",
    No b"NO",
    NoWriteToBinlog b"NO_WRITE_TO_BINLOG",
    Not b"NOT",
    Nowait b"NOWAIT",
    Off b"OFF",
    Offline b"OFFLINE",
    On b"ON",
    Online b"ONLINE",
    Optimize b"OPTIMIZE",
    Or b"OR",
    Order b"ORDER",
    Outer b"OUTER",
    Package b"PACKAGE",
    Partition b"PARTITION",
    Partitioning b"PARTITIONING",
    Partitions b"PARTITIONS",
    Password b"PASSWORD",
    Persist b"PERSIST",
    PersistOnly b"PERSIST_ONLY",
    Prepare b"PREPARE",
    Previous b"PREVIOUS",
    Primary b"PRIMARY",
    Procedure b"PROCEDURE",
    Read b"READ",
    Rebuild b"REBUILD",
    Recursive b"RECURSIVE",
    References b"REFERENCES",
    Release b"RELEASE",
    ReleaseAllLocks b"RELEASE_ALL_LOCKS",
    ReleaseLock b"RELEASE_LOCK",
    Remove b"REMOVE",
    Rename b"RENAME",
    Reorganize b"REORGANIZE",
    Repair b"REPAIR",
    Repeat b"REPEAT",
    Replace b"REPLACE",
    Returning b"RETURNING",
    Revoke b"REVOKE",
    Right b"RIGHT",
    Role b"ROLE",
    Rollback b"ROLLBACK",
    RowCount b"ROW_COUNT",
    Savepoint b"SAVEPOINT",
    Select b"SELECT",
    Sequence b"SEQUENCE",
    Session b"SESSION",
    Set b"SET",
    Setval b"SETVAL",
    Share b"SHARE",
    Show b"SHOW",
    Spatial b"SPATIAL",
    Sql b"SQL",
    SqlCalcFoundRows b"SQL_CALC_FOUND_ROWS",
    Start b"START",
    Statement b"STATEMENT",
    StraightJoin b"STRAIGHT_JOIN",
    SystemTime b"SYSTEM_TIME",
    Table b"TABLE",
    Tables b"TABLES",
    Temporary b"TEMPORARY",
    To b"TO",
    Transaction b"TRANSACTION",
    Trigger b"TRIGGER",
    True b"TRUE",
    Truncate b"TRUNCATE",
    Union b"UNION",
    Unique b"UNIQUE",
    Unlock b"UNLOCK",
    Update b"UPDATE",
    Use b"USE",
    Using b"USING",
    Value b"VALUE",
    Values b"VALUES",
    View b"VIEW",
    Wait b"WAIT",
    Where b"WHERE",
    While b"WHILE",
    Window b"WINDOW",
    With b"WITH",
    Work b"WORK",
    Write b"WRITE",
    Xa b"XA",
    Xml b"XML",
}

impl Kw {
    /// Words MySQL or MariaDB reserve, so that an unquoted one can be neither a
    /// table name nor an alias. Only these may end a table list: treating a
    /// non-reserved word such as `data` or `value` as the end of a table list
    /// would drop the tables after it, the dangerous direction for the write
    /// gate and for rules. `RETURNING` is reserved in MariaDB only.
    ///
    /// The reserved words only the ALTER reader asks about (`ADD`, `BY`,
    /// `CHANGE`, `CONSTRAINT`, `CONVERT`, `FOREIGN`, `PRIMARY`) are left out:
    /// they became keywords for that reader, and listing them here would
    /// change where the classifier ends table lists.
    pub(crate) fn is_reserved(self) -> bool {
        matches!(
            self,
            Kw::Alter
                | Kw::Analyze
                | Kw::And
                | Kw::As
                | Kw::Call
                | Kw::Case
                | Kw::Character
                | Kw::Check
                | Kw::Column
                | Kw::Create
                | Kw::Cross
                | Kw::Default
                | Kw::Delayed
                | Kw::Delete
                | Kw::Desc
                | Kw::Describe
                | Kw::Drop
                | Kw::Dual
                | Kw::Except
                | Kw::Exists
                | Kw::Explain
                | Kw::False
                | Kw::For
                | Kw::Force
                | Kw::From
                | Kw::Fulltext
                | Kw::Grant
                | Kw::Group
                | Kw::Having
                | Kw::HighPriority
                | Kw::If
                | Kw::Ignore
                | Kw::In
                | Kw::Index
                | Kw::Inner
                | Kw::Insert
                | Kw::Intersect
                | Kw::Into
                | Kw::Join
                | Kw::Key
                | Kw::Kill
                | Kw::Lateral
                | Kw::Left
                | Kw::Like
                | Kw::Limit
                | Kw::Load
                | Kw::Lock
                | Kw::Loop
                | Kw::LowPriority
                | Kw::Natural
                | Kw::Not
                | Kw::NoWriteToBinlog
                | Kw::On
                | Kw::Optimize
                | Kw::Or
                | Kw::Order
                | Kw::Outer
                | Kw::Partition
                | Kw::Procedure
                | Kw::Read
                | Kw::Recursive
                | Kw::References
                | Kw::Release
                | Kw::Rename
                | Kw::Repeat
                | Kw::Replace
                | Kw::Returning
                | Kw::Revoke
                | Kw::Right
                | Kw::Select
                | Kw::Set
                | Kw::Show
                | Kw::Spatial
                | Kw::Sql
                | Kw::SqlCalcFoundRows
                | Kw::StraightJoin
                | Kw::Table
                | Kw::To
                | Kw::Trigger
                | Kw::True
                | Kw::Union
                | Kw::Unique
                | Kw::Unlock
                | Kw::Update
                | Kw::Use
                | Kw::Using
                | Kw::Values
                | Kw::Where
                | Kw::While
                | Kw::Window
                | Kw::With
                | Kw::Write
        )
    }
}

const SLOT_BITS: u32 = 10;
const SLOTS: usize = 1 << SLOT_BITS;
const LONGEST: usize = 19;

/// Hashes the length, first, second and last bytes with their 0x20 bit set,
/// which folds ASCII letter case; `const` so that the compiler builds the
/// table with the same function the lookup uses. `word` has at least two
/// bytes.
const fn slot_of(word: &[u8]) -> usize {
    let n = word.len();
    let key = (word[0] | 0x20) as u32
        | ((word[1] | 0x20) as u32) << 8
        | ((word[n - 1] | 0x20) as u32) << 16
        | ((n as u32) & 0xff) << 24;
    (key.wrapping_mul(0x27d4_eb2f) >> (32 - SLOT_BITS)) as usize
}

/// Slot -> 1 + index into `KEYWORDS`, 0 for an empty slot.
const TABLE: [u8; SLOTS] = build_table();

const fn build_table() -> [u8; SLOTS] {
    assert!(KEYWORDS.len() < 255 && KEYWORDS.len() * 2 < SLOTS);
    let mut table = [0u8; SLOTS];
    let mut k = 0;
    while k < KEYWORDS.len() {
        assert!(KEYWORDS[k].0.len() >= 2 && KEYWORDS[k].0.len() <= LONGEST);
        let mut slot = slot_of(KEYWORDS[k].0);
        while table[slot] != 0 {
            slot = (slot + 1) & (SLOTS - 1);
        }
        table[slot] = (k + 1) as u8;
        k += 1;
    }
    table
}

/// The keyword spelled by `word` in any letter case, or `Kw::None`.
pub(crate) fn keyword(word: &[u8]) -> Kw {
    if word.len() < 2 || word.len() > LONGEST {
        return Kw::None;
    }
    let mut slot = slot_of(word);
    loop {
        let entry = TABLE[slot];
        if entry == 0 {
            return Kw::None;
        }
        let (text, kw) = KEYWORDS[entry as usize - 1];
        if text.eq_ignore_ascii_case(word) {
            return kw;
        }
        slot = (slot + 1) & (SLOTS - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_is_found_in_any_case() {
        for &(text, kw) in KEYWORDS {
            assert_eq!(keyword(text), kw);
            let lower = text.to_ascii_lowercase();
            assert_eq!(keyword(&lower), kw);
        }
    }

    #[test]
    fn every_keyword_is_at_most_three_slots_from_its_hash() {
        // The module doc promises short probes; a new keyword must keep it.
        for &(text, _) in KEYWORDS {
            let home = slot_of(text);
            let at = TABLE
                .iter()
                .position(|&e| e != 0 && KEYWORDS[e as usize - 1].0 == text);
            let distance = at.map(|at| (at + SLOTS - home) & (SLOTS - 1));
            assert!(distance.is_some_and(|d| d < 3), "{text:?}: {distance:?}");
        }
    }

    #[test]
    fn other_words_are_not_keywords() {
        for word in [
            &b"orders"[..],
            b"selec",
            b"selects",
            b"",
            b"x",
            b"\xc3\xa9t\xc3\xa9",
        ] {
            assert_eq!(keyword(word), Kw::None);
        }
    }
}
