//! One pass over the tokens: a statement head that knows each statement's
//! leading keywords, then a small state machine that finds tables, locking
//! clauses and side effects anywhere in the rest.
//!
//! Parentheses open frames. Each frame remembers whether a `SELECT` (or the
//! statement's `DELETE`) has been seen at its level, which is what makes a
//! `FROM` at that level start a table list: the `FROM` in `EXTRACT(YEAR FROM
//! d)`, `TRIM(x FROM y)`, `SHOW TABLES FROM db` or `PREPARE s FROM @q` is in a
//! frame without one. Inside a table list the frame's mode tracks whether a
//! table, an alias, a join condition or the end of the list comes next.
//! Nothing recurses on the input's nesting: frames live in a fixed array, and
//! beyond its depth parentheses are only counted.
//!
//! This file holds the scanner's state and its walk over statements; `head`
//! reads each statement's leading keywords, `clauses` the rest.

mod clauses;
mod head;

use super::inline::InlineVec;
use super::{Classified, Pin, StatementKind, TableName};
use crate::sql::keyword::Kw;
use crate::sql::lexer::{Lexer, Tok, Token};

/// Tokens the heads look ahead (`NEXT VALUE FOR`, `WITH name AS`).
const LOOKAHEAD: usize = 3;
/// Nesting tracked exactly; real statements stay far below. Deeper
/// parentheses are counted so they still balance, and their contents are
/// read in the deepest tracked frame.
const MAX_DEPTH: usize = 64;
/// CTE names remembered per statement; past this, CTE names may be reported
/// as tables (extra names, never missing ones).
const MAX_CTES: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Expressions and clauses: only keywords that start something matter.
    Expr,
    /// A table reference comes next (after FROM, JOIN, `,`, UPDATE ...).
    ExpectTable,
    /// After a table reference: alias, index hints, join or end of list.
    AfterTable,
    /// `ON` condition of a join; a `,` or JOIN goes back to the table list.
    JoinCond,
    /// `USE|IGNORE|FORCE INDEX [FOR JOIN|ORDER BY|GROUP BY] (...)`.
    IndexHint,
    /// After `WITH [RECURSIVE]` or a `,` between CTEs.
    CteName,
    /// After a CTE's name: column list or AS.
    CteAfterName,
    /// After `name AS`: the CTE body's parenthesis.
    CteAs,
    /// After a CTE body: another CTE or the main statement.
    CteAfterBody,
}

#[derive(Clone, Copy)]
struct Frame {
    mode: Mode,
    /// A FROM at this level starts a table list.
    select_seen: bool,
}

const EXPR_FRAME: Frame = Frame {
    mode: Mode::Expr,
    select_seen: false,
};

/// What the scan has learned about the statement it is in.
#[derive(Clone, Copy)]
struct Statement {
    kind: StatementKind,
    /// EXPLAIN and ANALYZE keep `Other` while their statement is scanned.
    kind_locked: bool,
    /// Began with WITH: the statement after the CTEs decides the kind.
    with_pending: bool,
    is_delete: bool,
    /// Number of tables before `DELETE ... FROM`'s list, which `USING` turns
    /// into a list of targets (possibly aliases) to forget.
    delete_mark: Option<usize>,
    alter_table: bool,
    starts: bool,
    ends: bool,
}

const NEW_STATEMENT: Statement = Statement {
    kind: StatementKind::Other,
    kind_locked: false,
    with_pending: false,
    is_delete: false,
    delete_mark: None,
    alter_table: false,
    starts: false,
    ends: false,
};

/// How the rest of a statement is read once its head is done.
enum Body {
    /// Table lists, subqueries, locking clauses, functions.
    Generic,
    /// Skipped to the next `;` (tokens still lexed for hints and variables).
    Opaque,
    /// A stored program: skipped to the `;` after its BEGIN ... END blocks
    /// close; the number is how many are open already.
    Compound(u32),
    /// A top-level compound statement whose end cannot be told lexically:
    /// the rest of the text.
    Rest,
}

enum Head<'a> {
    Body(Body),
    /// Classify this token as the start of the statement instead (SET
    /// STATEMENT ... FOR, EXPLAIN): a loop rather than recursion, so
    /// `SET STATEMENT ... FOR SET STATEMENT ...` cannot exhaust the stack.
    Again(Token<'a>),
}

/// Fills `out`, which the caller owns so that the result is built where it
/// is returned instead of being copied there.
pub(super) fn scan<'a>(sql: &'a str, out: &mut Classified<'a>) {
    let mut scanner = Scanner {
        lexer: Lexer::new(sql),
        ahead: [Token::EOF; LOOKAHEAD],
        ahead_len: 0,
        out,
        frames: [EXPR_FRAME; MAX_DEPTH],
        depth: 0,
        overflow: 0,
        ctes: InlineVec::new(""),
        stmt: NEW_STATEMENT,
    };
    scanner.run();
}

struct Scanner<'a, 'o> {
    lexer: Lexer<'a>,
    ahead: [Token<'a>; LOOKAHEAD],
    ahead_len: usize,
    out: &'o mut Classified<'a>,
    frames: [Frame; MAX_DEPTH],
    /// Index of the current frame; always < MAX_DEPTH.
    depth: usize,
    /// Parentheses open beyond MAX_DEPTH.
    overflow: usize,
    ctes: InlineVec<&'a str, 4>,
    stmt: Statement,
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Can stand as an unqualified table, alias or CTE name.
fn is_name(t: Token<'_>) -> bool {
    match t.tok {
        Tok::Word => !t.kw.is_reserved(),
        Tok::Ident | Tok::DqString => true,
        _ => false,
    }
}

/// Can follow a `.`: there even reserved words are names (`t.order`).
fn is_name_part(t: Token<'_>) -> bool {
    matches!(t.tok, Tok::Word | Tok::Ident | Tok::DqString)
}

/// A keyword that can only be the start of a statement that EXPLAIN or
/// ANALYZE or a CTE list can lead into.
fn starts_dml(t: Token<'_>) -> bool {
    t.tok == Tok::LParen
        || matches!(
            t.kw,
            Kw::Select
                | Kw::With
                | Kw::Insert
                | Kw::Replace
                | Kw::Update
                | Kw::Delete
                | Kw::Table
                | Kw::Values
        )
}

impl<'a> Scanner<'a, '_> {
    // ----- tokens ------------------------------------------------------------

    #[inline]
    fn next(&mut self) -> Token<'a> {
        let t = if self.ahead_len > 0 {
            let t = self.ahead[0];
            self.ahead.copy_within(1.., 0);
            self.ahead_len -= 1;
            t
        } else {
            self.lexer.next_token(&mut self.out.hints)
        };
        match t.tok {
            Tok::UserVar => self.out.reads_user_variables = true,
            Tok::SysVar => self.out.session_facts = true,
            _ => {}
        }
        t
    }

    #[inline]
    fn peek(&mut self, n: usize) -> Token<'a> {
        let n = n.min(LOOKAHEAD - 1);
        while self.ahead_len <= n {
            self.ahead[self.ahead_len] = self.lexer.next_token(&mut self.out.hints);
            self.ahead_len += 1;
        }
        self.ahead[n]
    }

    /// The next token of this statement: a head reading a fixed shape must
    /// not swallow the `;` of a statement cut short.
    fn take(&mut self) -> Token<'a> {
        match self.peek(0).tok {
            Tok::Semi | Tok::Eof => Token::EOF,
            _ => self.next(),
        }
    }

    fn eat(&mut self, kw: Kw) -> bool {
        let found = self.peek(0).kw == kw;
        if found {
            self.next();
        }
        found
    }

    fn eat_if_exists(&mut self) {
        if self.eat(Kw::If) {
            self.eat(Kw::Not);
            self.eat(Kw::Exists);
        }
    }

    fn at_statement_end(&mut self) -> bool {
        matches!(self.peek(0).tok, Tok::Semi | Tok::Eof)
    }

    // ----- frames ------------------------------------------------------------

    #[inline]
    fn mode(&self) -> Mode {
        self.frames[self.depth].mode
    }

    #[inline]
    fn set_mode(&mut self, mode: Mode) {
        self.frames[self.depth].mode = mode;
    }

    /// Opens a parenthesis whose contents are read in `child`; the current
    /// frame continues in `after` once it closes.
    fn open(&mut self, after: Mode, child: Mode) {
        self.set_mode(after);
        if self.overflow == 0 && self.depth + 1 < MAX_DEPTH {
            self.depth += 1;
            self.frames[self.depth] = Frame {
                mode: child,
                select_seen: false,
            };
        } else {
            self.overflow += 1;
        }
    }

    fn close(&mut self) {
        if self.overflow > 0 {
            self.overflow -= 1;
        } else if self.depth > 0 {
            self.depth -= 1;
        }
    }

    fn at_top(&self) -> bool {
        self.depth == 0 && self.overflow == 0
    }

    // ----- facts -------------------------------------------------------------

    fn kind(&mut self, kind: StatementKind) {
        if !self.stmt.kind_locked {
            self.stmt.kind = kind;
        }
    }

    fn ddl(&mut self) {
        self.kind(StatementKind::Ddl);
        self.stmt.ends = true;
    }

    /// An UNLOCK TABLES does not undo a pin other than LOCK TABLES.
    fn pin(&mut self, pin: Pin) {
        let keep = pin == Pin::UnlockTables
            && matches!(self.out.pin, Some(p) if p != Pin::LockTables && p != Pin::UnlockTables);
        if !keep {
            self.out.pin = Some(pin);
        }
        self.out.pins.insert(pin);
    }

    /// Reads `name` or `schema.name` starting at `first` (already taken).
    fn qualified(&mut self, first: Token<'a>) -> TableName<'a> {
        if self.peek(0).tok == Tok::Dot && is_name_part(self.peek(1)) {
            self.next();
            let name = self.next();
            TableName {
                schema: Some(first.text),
                name: name.text,
            }
        } else {
            TableName {
                schema: None,
                name: first.text,
            }
        }
    }

    fn record(&mut self, first: Token<'a>) {
        let table = self.qualified(first);
        let is_cte = table.schema.is_none() && self.ctes.as_slice().contains(&table.name);
        if !is_cte {
            self.out.tables.insert(table);
        }
    }

    fn record_next_name(&mut self) {
        if is_name(self.peek(0)) {
            let first = self.next();
            self.record(first);
        }
    }

    /// `CREATE INDEX i ... ON t`, `DROP INDEX i ON t`, `CREATE TRIGGER ...
    /// ON t`: the table follows the first ON.
    fn record_after_on(&mut self) {
        while !self.at_statement_end() {
            if self.next().kw == Kw::On {
                self.record_next_name();
                return;
            }
        }
    }

    // ----- statements --------------------------------------------------------

    fn run(&mut self) {
        let mut first = true;
        loop {
            while self.peek(0).tok == Tok::Semi {
                self.next();
            }
            let start = self.next();
            if start.tok == Tok::Eof {
                return;
            }
            if !first {
                self.out.multi_statement = true;
            }
            self.frames[0] = EXPR_FRAME;
            self.depth = 0;
            self.overflow = 0;
            self.ctes.clear();
            self.stmt = NEW_STATEMENT;

            match self.dispatch(start) {
                Body::Generic => self.generic(),
                Body::Opaque => self.skip_statement(),
                Body::Compound(open) => self.skip_compound(open),
                Body::Rest => while self.next().tok != Tok::Eof {},
            }

            if first {
                self.out.kind = self.stmt.kind;
            }
            if self.stmt.ends {
                self.out.ends_transaction = true;
                self.out.starts_transaction = false;
            }
            if self.stmt.starts {
                self.out.starts_transaction = true;
            }
            first = false;
        }
    }

    fn dispatch(&mut self, mut start: Token<'a>) -> Body {
        loop {
            match self.head(start) {
                Head::Body(body) => return body,
                Head::Again(t) => start = t,
            }
        }
    }

    fn generic(&mut self) {
        loop {
            let t = self.next();
            match t.tok {
                Tok::Eof | Tok::Semi => return,
                // Most tokens of most statements are literals, operators and
                // commas inside expressions, which change nothing.
                Tok::Number | Tok::String | Tok::Op | Tok::Comma | Tok::Eq | Tok::Dot
                    if self.mode() == Mode::Expr => {}
                _ => self.handle(t),
            }
        }
    }

    fn skip_statement(&mut self) {
        while !matches!(self.next().tok, Tok::Eof | Tok::Semi) {}
    }

    /// Counts BEGIN and CASE against END (`END IF`, `END LOOP`, `END WHILE`,
    /// `END REPEAT` close blocks whose openers are not counted, since `IF(`
    /// and `REPEAT(` are also functions).
    fn skip_compound(&mut self, open: u32) {
        let mut open = open;
        loop {
            let t = self.next();
            match t.tok {
                Tok::Eof => return,
                Tok::Semi if open == 0 => return,
                Tok::Word => match t.kw {
                    Kw::Begin | Kw::Case => open = open.saturating_add(1),
                    Kw::End => match self.peek(0).kw {
                        Kw::If | Kw::Loop | Kw::While | Kw::Repeat => {
                            self.next();
                        }
                        Kw::Case => {
                            self.next();
                            open = open.saturating_sub(1);
                        }
                        _ => open = open.saturating_sub(1),
                    },
                    _ => {}
                },
                _ => {}
            }
        }
    }
}
