//! Statement heads: the leading keywords that give a statement its kind, and
//! the fixed-shape part after them (target table, modifiers, the assignments
//! of SET) before the clause scan in `clauses` takes over.

use super::{eq_ci, is_name, starts_dml, Body, Head, Mode, Scanner};
use crate::sql::classify::{Pin, StatementKind};
use crate::sql::keyword::Kw;
use crate::sql::lexer::{NoHints, Tok, Token};

impl<'a> Scanner<'a, '_> {
    /// The statement's leading keywords: its kind and the fixed-shape part
    /// (target table, modifiers) before the clause scan takes over.
    pub(super) fn head(&mut self, t: Token<'a>) -> Head<'a> {
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
    pub(super) fn probe_parenthesized(&mut self) -> StatementKind {
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
    pub(super) fn labeled_head(&mut self) -> Body {
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

    pub(super) fn insert_head(&mut self) {
        while matches!(
            self.peek(0).kw,
            Kw::LowPriority | Kw::Delayed | Kw::HighPriority | Kw::Ignore
        ) {
            self.next();
        }
        self.eat(Kw::Into);
        self.record_next_name();
    }

    pub(super) fn update_head(&mut self) {
        while matches!(self.peek(0).kw, Kw::LowPriority | Kw::Ignore) {
            self.next();
        }
        self.set_mode(Mode::ExpectTable);
    }

    /// The targets of `DELETE a, b FROM ...` are skipped: each must also
    /// appear in the FROM list, where it is a table rather than maybe an alias.
    pub(super) fn delete_head(&mut self) {
        self.stmt.is_delete = true;
        self.frames[self.depth].select_seen = true;
    }

    /// `DEFINER = user`, where user is `'app'@'%'`, `app@host` or
    /// `CURRENT_USER[()]`.
    pub(super) fn skip_definer(&mut self) {
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
    pub(super) fn skip_option_value(&mut self) {
        if self.peek(0).tok == Tok::Eq {
            self.next();
        }
        self.take();
    }

    /// Modifiers between CREATE/ALTER and the kind of object.
    pub(super) fn skip_object_modifiers(&mut self) -> bool {
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

    pub(super) fn create_head(&mut self) -> Body {
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

    pub(super) fn alter_head(&mut self) -> Body {
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

    pub(super) fn drop_head(&mut self) -> Body {
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
    pub(super) fn commit_head(&mut self) -> Body {
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

    pub(super) fn set_head(&mut self) -> Head<'a> {
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
    pub(super) fn set_assignments(&mut self) {
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
    pub(super) fn autocommit_value(&mut self) -> bool {
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
    pub(super) fn scan_to_comma(&mut self) -> bool {
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

    pub(super) fn explain_head(&mut self) -> Head<'a> {
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
    pub(super) fn analyze_head(&mut self) -> Head<'a> {
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
    pub(super) fn admin_table_head(&mut self, kw: Kw) -> Body {
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
    pub(super) fn load_head(&mut self) -> Body {
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
    pub(super) fn flush_head(&mut self) -> Body {
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
}
