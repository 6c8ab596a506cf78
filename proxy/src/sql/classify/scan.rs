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

use super::inline::InlineVec;
use super::keyword::Kw;
use super::lexer::{Lexer, NoHints, Tok, Token};
use super::{Classified, Pin, StatementKind, TableName};

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

pub(super) fn scan(sql: &str) -> Classified<'_> {
    let mut scanner = Scanner {
        lexer: Lexer::new(sql),
        ahead: [Token::EOF; LOOKAHEAD],
        ahead_len: 0,
        out: Classified::new(),
        frames: [EXPR_FRAME; MAX_DEPTH],
        depth: 0,
        overflow: 0,
        ctes: InlineVec::new(""),
        stmt: NEW_STATEMENT,
    };
    scanner.run();
    scanner.out
}

struct Scanner<'a> {
    lexer: Lexer<'a>,
    ahead: [Token<'a>; LOOKAHEAD],
    ahead_len: usize,
    out: Classified<'a>,
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

/// Clause keywords that end a join condition and with it the table list.
fn ends_table_list(kw: Kw) -> bool {
    matches!(
        kw,
        Kw::Where
            | Kw::Group
            | Kw::Having
            | Kw::Order
            | Kw::Limit
            | Kw::Window
            | Kw::Union
            | Kw::Intersect
            | Kw::Except
            | Kw::For
            | Kw::Lock
            | Kw::Into
            | Kw::Set
            | Kw::Returning
            | Kw::Procedure
            | Kw::Select
            | Kw::Values
    )
}

impl<'a> Scanner<'a> {
    // ----- tokens ------------------------------------------------------------

    fn next(&mut self) -> Token<'a> {
        let t = if self.ahead_len > 0 {
            let t = self.ahead[0];
            self.ahead.copy_within(1.., 0);
            self.ahead_len -= 1;
            t
        } else {
            self.lexer.next_token(&mut self.out.hints)
        };
        if t.tok == Tok::UserVar {
            self.out.reads_user_variables = true;
        }
        t
    }

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

    fn mode(&self) -> Mode {
        self.frames[self.depth].mode
    }

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

    /// The statement's leading keywords: its kind and the fixed-shape part
    /// (target table, modifiers) before the generic scan takes over.
    fn head(&mut self, t: Token<'a>) -> Head<'a> {
        use StatementKind as K;
        if t.tok != Tok::Word {
            let kind = if t.tok == Tok::LParen {
                self.probe_parenthesized()
            } else {
                K::Other
            };
            self.kind(kind);
            self.handle(t);
            return Head::Body(Body::Generic);
        }
        let body = match t.kw {
            Kw::Select => {
                self.kind(K::Select);
                self.frames[self.depth].select_seen = true;
                Body::Generic
            }
            Kw::With => {
                self.kind(K::Select);
                self.stmt.with_pending = true;
                self.handle(t);
                Body::Generic
            }
            Kw::Values => {
                self.kind(K::Select);
                Body::Generic
            }
            Kw::Table => {
                self.kind(K::Select);
                self.handle(t);
                Body::Generic
            }
            Kw::Insert | Kw::Replace => {
                self.kind(if t.kw == Kw::Insert {
                    K::Insert
                } else {
                    K::Replace
                });
                self.insert_head();
                Body::Generic
            }
            Kw::Update => {
                self.kind(K::Update);
                self.update_head();
                Body::Generic
            }
            Kw::Delete => {
                self.kind(K::Delete);
                self.delete_head();
                Body::Generic
            }
            Kw::Create => self.create_head(),
            Kw::Alter => self.alter_head(),
            Kw::Drop => self.drop_head(),
            Kw::Rename => {
                self.ddl();
                if self.eat(Kw::Table) || self.eat(Kw::Tables) {
                    self.set_mode(Mode::ExpectTable);
                    Body::Generic
                } else {
                    Body::Opaque
                }
            }
            Kw::Truncate => {
                self.ddl();
                self.eat(Kw::Table);
                self.set_mode(Mode::ExpectTable);
                Body::Generic
            }
            Kw::Begin if self.peek(0).kw == Kw::Not => {
                self.kind(K::Other);
                Body::Compound(1)
            }
            Kw::Begin => {
                self.kind(K::Transaction);
                self.stmt.starts = true;
                Body::Opaque
            }
            Kw::Start => {
                if self.eat(Kw::Transaction) {
                    self.kind(K::Transaction);
                    self.stmt.starts = true;
                } else {
                    self.kind(K::Other);
                }
                Body::Opaque
            }
            Kw::Commit | Kw::Rollback => self.commit_head(),
            Kw::Savepoint => {
                self.kind(K::Transaction);
                Body::Opaque
            }
            Kw::Release => {
                let kind = if self.peek(0).kw == Kw::Savepoint {
                    K::Transaction
                } else {
                    K::Other
                };
                self.kind(kind);
                Body::Opaque
            }
            Kw::Xa => {
                self.kind(K::Transaction);
                match self.take().kw {
                    Kw::Start | Kw::Begin => self.stmt.starts = true,
                    Kw::Commit | Kw::Rollback => self.stmt.ends = true,
                    _ => {}
                }
                Body::Opaque
            }
            Kw::Set => return self.set_head(),
            Kw::Use => {
                self.kind(K::Other);
                let p = self.peek(0);
                if matches!(p.tok, Tok::Word | Tok::Ident) {
                    self.next();
                    self.out.use_schema = Some(p.text);
                }
                Body::Opaque
            }
            Kw::Explain | Kw::Describe | Kw::Desc => return self.explain_head(),
            Kw::Analyze => return self.analyze_head(),
            Kw::Optimize | Kw::Repair | Kw::Check | Kw::Checksum => self.admin_table_head(t.kw),
            Kw::Lock => {
                self.kind(K::Other);
                if self.eat(Kw::Table) || self.eat(Kw::Tables) {
                    self.stmt.ends = true;
                    self.pin(Pin::LockTables);
                    self.set_mode(Mode::ExpectTable);
                    Body::Generic
                } else {
                    Body::Opaque
                }
            }
            Kw::Unlock => {
                self.kind(K::Other);
                if self.eat(Kw::Table) || self.eat(Kw::Tables) {
                    self.pin(Pin::UnlockTables);
                }
                Body::Opaque
            }
            Kw::Handler => {
                self.kind(K::Other);
                self.record_next_name();
                Body::Opaque
            }
            Kw::Load => self.load_head(),
            Kw::Flush => self.flush_head(),
            Kw::Prepare => {
                self.kind(K::Other);
                self.pin(Pin::Prepare);
                Body::Generic
            }
            Kw::Call | Kw::Do | Kw::Execute => {
                self.kind(K::Other);
                Body::Generic
            }
            Kw::Show | Kw::Help | Kw::Kill | Kw::Deallocate => {
                self.kind(K::Other);
                Body::Opaque
            }
            Kw::Grant | Kw::Revoke => {
                self.ddl();
                Body::Opaque
            }
            Kw::If | Kw::Case | Kw::While | Kw::Loop | Kw::Repeat => {
                self.kind(K::Other);
                Body::Rest
            }
            _ if self.peek(0).tok == Tok::Colon => self.labeled_head(),
            _ => {
                self.kind(K::Other);
                Body::Generic
            }
        };
        Head::Body(body)
    }

    /// `(SELECT ...) UNION (...)` is a query, `((` and all; anything else in
    /// parentheses is not a statement MySQL knows.
    fn probe_parenthesized(&mut self) -> StatementKind {
        let mut lexer = self.lexer;
        let mut i = 0;
        loop {
            let t = if i < self.ahead_len {
                self.ahead[i]
            } else {
                lexer.next_token(&mut NoHints)
            };
            i += 1;
            match t.tok {
                Tok::LParen => {}
                Tok::Word if matches!(t.kw, Kw::Select | Kw::With | Kw::Values | Kw::Table) => {
                    return StatementKind::Select;
                }
                _ => return StatementKind::Other,
            }
        }
    }

    /// `label: BEGIN ... END` and labelled loops, MariaDB compound statements.
    fn labeled_head(&mut self) -> Body {
        self.kind(StatementKind::Other);
        loop {
            self.next();
            let t = self.take();
            if t.tok == Tok::Word && self.peek(0).tok == Tok::Colon {
                continue;
            }
            return if t.kw == Kw::Begin {
                Body::Compound(1)
            } else {
                Body::Rest
            };
        }
    }

    fn insert_head(&mut self) {
        while matches!(
            self.peek(0).kw,
            Kw::LowPriority | Kw::Delayed | Kw::HighPriority | Kw::Ignore
        ) {
            self.next();
        }
        self.eat(Kw::Into);
        self.record_next_name();
    }

    fn update_head(&mut self) {
        while matches!(self.peek(0).kw, Kw::LowPriority | Kw::Ignore) {
            self.next();
        }
        self.set_mode(Mode::ExpectTable);
    }

    /// The targets of `DELETE a, b FROM ...` are skipped: each must also
    /// appear in the FROM list, where it is a table rather than maybe an alias.
    fn delete_head(&mut self) {
        self.stmt.is_delete = true;
        self.frames[self.depth].select_seen = true;
    }

    /// `DEFINER = user`, where user is `'app'@'%'`, `app@host` or
    /// `CURRENT_USER[()]`.
    fn skip_definer(&mut self) {
        if self.peek(0).tok == Tok::Eq {
            self.next();
        }
        let user = self.take();
        match self.peek(0).tok {
            Tok::Host => {
                self.next();
            }
            Tok::LParen if user.tok == Tok::Word => {
                self.next();
                if self.peek(0).tok == Tok::RParen {
                    self.next();
                }
            }
            _ => {}
        }
    }

    /// `= value` after ALGORITHM, FORMAT and the like.
    fn skip_option_value(&mut self) {
        if self.peek(0).tok == Tok::Eq {
            self.next();
        }
        self.take();
    }

    /// Modifiers between CREATE/ALTER and the kind of object.
    fn skip_object_modifiers(&mut self) -> bool {
        let mut temporary = false;
        loop {
            match self.peek(0).kw {
                Kw::Temporary => {
                    self.next();
                    temporary = true;
                }
                Kw::Definer => {
                    self.next();
                    self.skip_definer();
                }
                Kw::Algorithm => {
                    self.next();
                    self.skip_option_value();
                }
                Kw::Sql => {
                    // SQL SECURITY {DEFINER | INVOKER}
                    self.next();
                    self.take();
                    self.take();
                }
                Kw::Or if self.peek(1).kw == Kw::Replace => {
                    self.next();
                    self.next();
                }
                Kw::Online
                | Kw::Offline
                | Kw::Ignore
                | Kw::Unique
                | Kw::Fulltext
                | Kw::Spatial
                | Kw::Aggregate => {
                    self.next();
                }
                _ => return temporary,
            }
        }
    }

    fn create_head(&mut self) -> Body {
        self.ddl();
        if self.skip_object_modifiers() {
            // Temporary tables commit nothing and live in this session only.
            self.stmt.ends = false;
            self.pin(Pin::TemporaryTable);
        }
        match self.take().kw {
            Kw::Table => {
                self.eat_if_exists();
                self.record_next_name();
                if self.peek(0).kw == Kw::Like {
                    self.next();
                    self.record_next_name();
                } else if self.peek(0).tok == Tok::LParen && self.peek(1).kw == Kw::Like {
                    self.next();
                    self.next();
                    self.record_next_name();
                }
                Body::Generic
            }
            Kw::View => {
                self.eat_if_exists();
                self.record_next_name();
                Body::Generic
            }
            Kw::Sequence => {
                self.eat_if_exists();
                self.record_next_name();
                Body::Opaque
            }
            Kw::Index => {
                self.record_after_on();
                Body::Opaque
            }
            Kw::Trigger => {
                self.record_after_on();
                Body::Compound(0)
            }
            Kw::Procedure | Kw::Function | Kw::Event | Kw::Package => Body::Compound(0),
            _ => Body::Opaque,
        }
    }

    fn alter_head(&mut self) -> Body {
        self.ddl();
        self.skip_object_modifiers();
        match self.take().kw {
            Kw::Table => {
                self.eat_if_exists();
                self.record_next_name();
                self.stmt.alter_table = true;
                Body::Generic
            }
            Kw::View => {
                self.record_next_name();
                Body::Generic
            }
            Kw::Sequence => {
                self.eat_if_exists();
                self.record_next_name();
                Body::Opaque
            }
            Kw::Event | Kw::Procedure | Kw::Function => Body::Compound(0),
            _ => Body::Opaque,
        }
    }

    fn drop_head(&mut self) -> Body {
        let temporary = self.eat(Kw::Temporary);
        match self.take().kw {
            Kw::Table | Kw::Tables | Kw::View | Kw::Sequence => {
                self.ddl();
                if temporary {
                    self.stmt.ends = false;
                }
                self.set_mode(Mode::ExpectTable);
                Body::Generic
            }
            Kw::Index => {
                self.ddl();
                self.record_after_on();
                Body::Opaque
            }
            Kw::Prepare => {
                self.kind(StatementKind::Other);
                Body::Opaque
            }
            _ => {
                self.ddl();
                Body::Opaque
            }
        }
    }

    /// COMMIT / ROLLBACK `[WORK] [AND [NO] CHAIN] [[NO] RELEASE]`, ROLLBACK
    /// `[WORK] TO [SAVEPOINT] s`.
    fn commit_head(&mut self) -> Body {
        self.kind(StatementKind::Transaction);
        let mut previous = Kw::None;
        let mut chain = false;
        let mut to_savepoint = false;
        while !self.at_statement_end() {
            let kw = self.next().kw;
            match kw {
                Kw::Chain if previous != Kw::No => chain = true,
                Kw::To => to_savepoint = true,
                _ => {}
            }
            previous = kw;
        }
        if !to_savepoint {
            self.stmt.ends = true;
            self.stmt.starts = chain;
        }
        Body::Opaque
    }

    fn set_head(&mut self) -> Head<'a> {
        use StatementKind as K;
        let first = self.peek(0);
        let body = match first.kw {
            Kw::Statement => {
                // MariaDB: SET STATEMENT var = value [, ...] FOR statement.
                self.next();
                let mut depth = 0usize;
                while !self.at_statement_end() {
                    let t = self.next();
                    match t.tok {
                        Tok::LParen => depth += 1,
                        Tok::RParen => depth = depth.saturating_sub(1),
                        Tok::Word if t.kw == Kw::For && depth == 0 => {
                            return Head::Again(self.take())
                        }
                        _ => {}
                    }
                }
                self.kind(K::Set);
                Body::Opaque
            }
            Kw::Password => {
                self.ddl();
                Body::Opaque
            }
            Kw::Default if self.peek(1).kw == Kw::Role => {
                self.ddl();
                Body::Opaque
            }
            Kw::Role | Kw::Transaction => {
                self.kind(K::Set);
                Body::Opaque
            }
            Kw::Global | Kw::Session | Kw::Local | Kw::Persist | Kw::PersistOnly
                if self.peek(1).kw == Kw::Transaction =>
            {
                self.kind(K::Set);
                if !matches!(first.kw, Kw::Session | Kw::Local) {
                    self.out.side_effects = true;
                }
                Body::Opaque
            }
            _ => {
                self.kind(K::Set);
                self.set_assignments();
                Body::Opaque
            }
        };
        Head::Body(body)
    }

    /// `SET [scope] target = value, ...`. A scope keyword applies to the
    /// assignments after it until the next one, as in MySQL; `@@x` without a
    /// scope is the session's.
    fn set_assignments(&mut self) {
        let mut global_scope = false;
        loop {
            match self.peek(0).kw {
                Kw::Global | Kw::Persist | Kw::PersistOnly => {
                    self.next();
                    global_scope = true;
                }
                Kw::Session | Kw::Local => {
                    self.next();
                    global_scope = false;
                }
                _ => {}
            }
            let target = self.take();
            let mut global = global_scope;
            let mut variable = None;
            match target.tok {
                Tok::Eof => return,
                Tok::UserVar => self.out.side_effects = true,
                Tok::SysVar => {
                    let (scope, name) = match target.text.split_once('.') {
                        Some((scope, name)) => (scope, name),
                        None => ("", target.text),
                    };
                    global = ["global", "persist", "persist_only"]
                        .iter()
                        .any(|g| eq_ci(scope, g));
                    variable = Some(name);
                }
                Tok::Word if matches!(target.kw, Kw::Names | Kw::Character | Kw::Charset) => {}
                Tok::Word | Tok::Ident => {
                    variable = Some(target.text);
                    if self.peek(0).tok == Tok::Dot {
                        self.next();
                        variable = Some(self.take().text);
                    }
                }
                _ => self.handle(target),
            }
            if matches!(self.peek(0).tok, Tok::Eq | Tok::Assign) {
                self.next();
            }
            match variable {
                Some(name) if !global && eq_ci(name, "autocommit") => {
                    self.out.sets_autocommit = Some(self.autocommit_value());
                }
                Some(name) if !global && eq_ci(name, "sql_log_bin") => self.pin(Pin::SqlLogBin),
                _ => {}
            }
            if global {
                self.out.side_effects = true;
            }
            if !self.scan_to_comma() {
                return;
            }
        }
    }

    /// The literal assigned to autocommit; anything else counts as off.
    fn autocommit_value(&mut self) -> bool {
        let value = self.peek(0);
        let alone = matches!(self.peek(1).tok, Tok::Comma | Tok::Semi | Tok::Eof);
        alone
            && matches!(
                value.tok,
                Tok::Number | Tok::String | Tok::DqString | Tok::Word
            )
            && ["1", "on", "true"].iter().any(|on| eq_ci(value.text, on))
    }

    /// Scans one expression of a list, up to a `,` at the top level.
    /// Returns whether a `,` was found (and consumed).
    fn scan_to_comma(&mut self) -> bool {
        loop {
            match self.peek(0).tok {
                Tok::Eof | Tok::Semi => return false,
                Tok::Comma if self.at_top() => {
                    self.next();
                    return true;
                }
                _ => {
                    let t = self.next();
                    self.handle(t);
                }
            }
        }
    }

    fn explain_head(&mut self) -> Head<'a> {
        self.kind(StatementKind::Other);
        self.stmt.kind_locked = true;
        loop {
            match self.peek(0).kw {
                Kw::Extended | Kw::Partitions | Kw::Analyze => {
                    self.next();
                }
                Kw::Format => {
                    self.next();
                    self.skip_option_value();
                }
                _ => break,
            }
        }
        let p = self.peek(0);
        if starts_dml(p) {
            return Head::Again(self.next());
        }
        // DESCRIBE t [column]
        self.record_next_name();
        Head::Body(Body::Opaque)
    }

    /// `ANALYZE TABLE t` (maintenance) or MariaDB's `ANALYZE SELECT ...`,
    /// which runs the statement and reports how it went.
    fn analyze_head(&mut self) -> Head<'a> {
        if matches!(
            self.peek(0).kw,
            Kw::Table | Kw::Tables | Kw::NoWriteToBinlog | Kw::Local
        ) {
            return Head::Body(self.admin_table_head(Kw::Analyze));
        }
        self.kind(StatementKind::Other);
        self.stmt.kind_locked = true;
        if self.eat(Kw::Format) {
            self.skip_option_value();
        }
        if starts_dml(self.peek(0)) {
            return Head::Again(self.next());
        }
        Head::Body(Body::Opaque)
    }

    /// ANALYZE / CHECK / OPTIMIZE / REPAIR / CHECKSUM `[NO_WRITE_TO_BINLOG |
    /// LOCAL] TABLE t [, ...]`. All but CHECKSUM commit implicitly.
    fn admin_table_head(&mut self, kw: Kw) -> Body {
        self.kind(StatementKind::Other);
        self.stmt.ends = kw != Kw::Checksum;
        while matches!(self.peek(0).kw, Kw::NoWriteToBinlog | Kw::Local) {
            self.next();
        }
        if self.eat(Kw::Table) || self.eat(Kw::Tables) || self.eat(Kw::View) {
            self.set_mode(Mode::ExpectTable);
            Body::Generic
        } else {
            Body::Opaque
        }
    }

    /// `LOAD DATA|XML ... INTO TABLE t ...` writes rows: an Insert.
    fn load_head(&mut self) -> Body {
        if !matches!(self.peek(0).kw, Kw::Data | Kw::Xml) {
            self.kind(StatementKind::Other);
            return Body::Opaque;
        }
        self.kind(StatementKind::Insert);
        while !self.at_statement_end() {
            if self.next().kw == Kw::Into {
                self.eat(Kw::Table);
                self.record_next_name();
                break;
            }
        }
        Body::Generic
    }

    /// `FLUSH TABLES [t, ...] WITH READ LOCK | FOR EXPORT` takes locks that
    /// UNLOCK TABLES releases, like LOCK TABLES.
    fn flush_head(&mut self) -> Body {
        self.kind(StatementKind::Other);
        while matches!(self.peek(0).kw, Kw::NoWriteToBinlog | Kw::Local) {
            self.next();
        }
        if self.eat(Kw::Table) || self.eat(Kw::Tables) {
            while is_name(self.peek(0)) {
                let first = self.next();
                self.record(first);
                if self.peek(0).tok != Tok::Comma {
                    break;
                }
                self.next();
            }
        }
        let mut previous = Kw::None;
        while !self.at_statement_end() {
            let kw = self.next().kw;
            if (previous == Kw::With && kw == Kw::Read) || (previous == Kw::For && kw == Kw::Export)
            {
                self.pin(Pin::LockTables);
            }
            previous = kw;
        }
        Body::Opaque
    }

    // ----- the generic scan --------------------------------------------------

    fn handle(&mut self, t: Token<'a>) {
        match self.mode() {
            Mode::Expr => self.expr(t),
            Mode::ExpectTable => self.expect_table(t),
            Mode::AfterTable => self.after_table(t),
            Mode::JoinCond => self.join_cond(t),
            Mode::IndexHint => match t.tok {
                Tok::LParen => self.open(Mode::AfterTable, Mode::Expr),
                Tok::RParen => self.close(),
                _ => {}
            },
            Mode::CteName => {
                if is_name(t) {
                    if self.ctes.len() < MAX_CTES {
                        self.ctes.push(t.text);
                    }
                    self.set_mode(Mode::CteAfterName);
                } else if t.kw != Kw::Recursive {
                    self.set_mode(Mode::Expr);
                    self.expr(t);
                }
            }
            Mode::CteAfterName => match (t.tok, t.kw) {
                (Tok::LParen, _) => self.open(Mode::CteAfterName, Mode::Expr),
                (_, Kw::As) => self.set_mode(Mode::CteAs),
                _ => {
                    self.set_mode(Mode::Expr);
                    self.expr(t);
                }
            },
            Mode::CteAs => {
                if t.tok == Tok::LParen {
                    self.open(Mode::CteAfterBody, Mode::Expr);
                } else {
                    self.set_mode(Mode::Expr);
                    self.expr(t);
                }
            }
            Mode::CteAfterBody => {
                if t.tok == Tok::Comma {
                    self.set_mode(Mode::CteName);
                    return;
                }
                self.set_mode(Mode::Expr);
                if self.at_top() && self.stmt.with_pending {
                    self.stmt.with_pending = false;
                    self.after_ctes(t);
                } else {
                    self.expr(t);
                }
            }
        }
    }

    /// The statement a top-level CTE list leads into decides the kind.
    fn after_ctes(&mut self, t: Token<'a>) {
        use StatementKind as K;
        match t.kw {
            Kw::Update => {
                self.kind(K::Update);
                self.update_head();
            }
            Kw::Delete => {
                self.kind(K::Delete);
                self.delete_head();
            }
            Kw::Insert | Kw::Replace => {
                self.kind(if t.kw == Kw::Insert {
                    K::Insert
                } else {
                    K::Replace
                });
                self.insert_head();
            }
            _ => {
                self.kind(if starts_dml(t) { K::Select } else { K::Other });
                self.expr(t);
            }
        }
    }

    fn expr(&mut self, t: Token<'a>) {
        match t.tok {
            Tok::LParen => {
                let mode = self.mode();
                self.open(mode, Mode::Expr);
            }
            Tok::RParen => self.close(),
            Tok::UserVar => {
                if self.peek(0).tok == Tok::Assign {
                    self.out.side_effects = true;
                }
            }
            Tok::Word => self.expr_word(t),
            _ => {}
        }
    }

    fn expr_word(&mut self, t: Token<'a>) {
        match t.kw {
            Kw::Select => self.frames[self.depth].select_seen = true,
            Kw::From => {
                if self.frames[self.depth].select_seen {
                    self.set_mode(Mode::ExpectTable);
                    if self.stmt.is_delete && self.at_top() && self.stmt.delete_mark.is_none() {
                        self.stmt.delete_mark = Some(self.out.tables.len());
                    }
                }
            }
            // `TABLE t` as a query, also `INSERT ... TABLE t`, `UNION TABLE t`,
            // and ALTER TABLE's `EXCHANGE PARTITION p WITH TABLE t`.
            Kw::Table => self.record_next_name(),
            Kw::With => {
                let p = self.peek(0);
                if p.kw == Kw::Recursive {
                    self.next();
                    self.set_mode(Mode::CteName);
                } else if is_name(p)
                    && (self.peek(1).kw == Kw::As || self.peek(1).tok == Tok::LParen)
                {
                    self.set_mode(Mode::CteName);
                }
            }
            Kw::Into => self.out.side_effects = true,
            Kw::For => {
                if matches!(self.peek(0).kw, Kw::Update | Kw::Share) {
                    self.next();
                    self.out.locking_read = true;
                }
            }
            Kw::Lock => {
                if self.peek(0).kw == Kw::In {
                    self.next();
                    self.out.locking_read = true;
                }
            }
            Kw::Next | Kw::Previous => {
                if self.peek(0).kw == Kw::Value && self.peek(1).kw == Kw::For {
                    self.next();
                    self.next();
                    self.out.side_effects = true;
                    self.record_next_name();
                }
            }
            Kw::References => self.record_next_name(),
            Kw::Rename if self.stmt.alter_table && self.at_top() => {
                if !self.eat(Kw::To) {
                    self.eat(Kw::As);
                }
                self.record_next_name();
            }
            Kw::SqlCalcFoundRows => self.out.side_effects = true,
            Kw::GetLock
            | Kw::ReleaseLock
            | Kw::ReleaseAllLocks
            | Kw::LastInsertId
            | Kw::FoundRows
            | Kw::RowCount
            | Kw::Nextval
            | Kw::Setval
            | Kw::Lastval => {
                if self.peek(0).tok != Tok::LParen {
                    return;
                }
                self.out.side_effects = true;
                match t.kw {
                    Kw::GetLock => self.pin(Pin::UserLock),
                    Kw::Nextval | Kw::Setval | Kw::Lastval => {
                        let paren = self.next();
                        self.expr(paren);
                        self.record_next_name();
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn expect_table(&mut self, t: Token<'a>) {
        match t.tok {
            Tok::LParen => self.open(Mode::AfterTable, Mode::ExpectTable),
            Tok::RParen => self.close(),
            Tok::Comma => {}
            Tok::Word => match t.kw {
                Kw::Select => {
                    self.frames[self.depth].select_seen = true;
                    self.set_mode(Mode::Expr);
                }
                Kw::Table | Kw::Lateral => {}
                Kw::If => {
                    self.eat(Kw::Not);
                    self.eat(Kw::Exists);
                }
                Kw::Dual if self.peek(0).tok != Tok::Dot => self.set_mode(Mode::AfterTable),
                kw if kw.is_reserved() => {
                    self.set_mode(Mode::Expr);
                    self.expr(t);
                }
                _ if self.peek(0).tok == Tok::LParen => {
                    // A table function such as JSON_TABLE(...), not a table.
                    self.set_mode(Mode::AfterTable);
                }
                _ => {
                    self.record(t);
                    self.set_mode(Mode::AfterTable);
                }
            },
            Tok::Ident | Tok::DqString => {
                self.record(t);
                self.set_mode(Mode::AfterTable);
            }
            _ => {
                self.set_mode(Mode::Expr);
                self.expr(t);
            }
        }
    }

    fn after_table(&mut self, t: Token<'a>) {
        match t.tok {
            Tok::Comma => self.set_mode(Mode::ExpectTable),
            Tok::LParen => self.open(Mode::AfterTable, Mode::Expr),
            Tok::RParen => self.close(),
            Tok::Word => match t.kw {
                Kw::Join | Kw::StraightJoin | Kw::To => self.set_mode(Mode::ExpectTable),
                Kw::Inner
                | Kw::Cross
                | Kw::Left
                | Kw::Right
                | Kw::Natural
                | Kw::Outer
                | Kw::Full => {}
                Kw::On if self.peek(0).kw == Kw::Duplicate => self.set_mode(Mode::Expr),
                Kw::On => self.set_mode(Mode::JoinCond),
                Kw::Using if self.peek(0).tok == Tok::LParen => self.set_mode(Mode::JoinCond),
                Kw::Using => {
                    if self.stmt.is_delete && self.at_top() {
                        if let Some(mark) = self.stmt.delete_mark {
                            self.out.tables.truncate(mark);
                        }
                    }
                    self.set_mode(Mode::ExpectTable);
                }
                Kw::As => {
                    if is_name(self.peek(0)) || self.peek(0).tok == Tok::String {
                        self.next();
                    }
                }
                Kw::Use | Kw::Ignore | Kw::Force => self.set_mode(Mode::IndexHint),
                // PARTITION (p0), and LOCK TABLES' lock types.
                Kw::Partition
                | Kw::Read
                | Kw::Write
                | Kw::Local
                | Kw::LowPriority
                | Kw::Concurrent
                | Kw::Wait
                | Kw::Nowait => {}
                Kw::For if self.peek(0).kw == Kw::SystemTime => self.set_mode(Mode::JoinCond),
                kw if kw.is_reserved() => {
                    self.set_mode(Mode::Expr);
                    self.expr(t);
                }
                _ => {} // an alias
            },
            Tok::Ident | Tok::DqString | Tok::String => {} // an alias
            _ => {
                self.set_mode(Mode::Expr);
                self.expr(t);
            }
        }
    }

    fn join_cond(&mut self, t: Token<'a>) {
        match t.tok {
            Tok::Comma => self.set_mode(Mode::ExpectTable),
            Tok::LParen => self.open(Mode::JoinCond, Mode::Expr),
            Tok::RParen => self.close(),
            Tok::Word => match t.kw {
                Kw::Join | Kw::StraightJoin => self.set_mode(Mode::ExpectTable),
                Kw::Inner | Kw::Cross | Kw::Natural => self.set_mode(Mode::AfterTable),
                Kw::Left | Kw::Right if self.peek(0).tok != Tok::LParen => {
                    self.set_mode(Mode::AfterTable)
                }
                Kw::On if self.peek(0).kw == Kw::Duplicate => self.set_mode(Mode::Expr),
                // FOR SYSTEM_TIME FROM x TO y: not a table list.
                Kw::From => {}
                kw if ends_table_list(kw) => {
                    self.set_mode(Mode::Expr);
                    self.expr(t);
                }
                _ => self.expr(t),
            },
            _ => self.expr(t),
        }
    }
}
