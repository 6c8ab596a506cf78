//! The clause scan: table lists, joins, CTEs, subqueries, locking clauses and
//! functions with side effects, wherever they appear in a statement.

use super::{is_name, is_name_part, starts_dml, Mode, Scanner, MAX_CTES};
use crate::sql::classify::functions::{self, Callee};
use crate::sql::classify::{Pin, StatementKind, TableName};
use crate::sql::keyword::Kw;
use crate::sql::lexer::{Tok, Token};

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

impl<'a> Scanner<'a, '_> {
    /// Reads one token in the mode of the current frame.
    pub(super) fn handle(&mut self, t: Token<'a>) {
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
    pub(super) fn after_ctes(&mut self, t: Token<'a>) {
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

    pub(super) fn expr(&mut self, t: Token<'a>) {
        match t.tok {
            Tok::LParen => {
                let mode = self.mode();
                self.open(mode, Mode::Expr);
            }
            Tok::RParen => self.close(),
            Tok::UserVar if self.peek(0).tok == Tok::Assign => self.out.side_effects = true,
            Tok::Word => self.expr_word(t),
            Tok::Ident | Tok::DqString => self.callee(t),
            _ => {}
        }
    }

    /// A name in an expression: a call to a built-in, to a possibly stored
    /// function (`f(`, `` `f`( ``, `db.f(`), a bare session word such as
    /// `CURRENT_USER`, or a column.
    fn callee(&mut self, t: Token<'a>) {
        let after = self.peek(0);
        if after.tok == Tok::Dot {
            if is_name_part(self.peek(1)) && self.peek(2).tok == Tok::LParen {
                self.next();
                let name = self.next();
                self.out.routine_calls.insert(TableName {
                    schema: Some(t.text),
                    name: name.text,
                });
            }
            return;
        }
        if after.tok != Tok::LParen {
            if t.tok == Tok::Word && functions::is_session_word(t.text) {
                self.out.session_facts = true;
            }
            return;
        }
        if t.tok == Tok::Word {
            match functions::builtin(t.text) {
                Some(Callee::Pure | Callee::Syntax) => return,
                Some(Callee::SessionFact) => {
                    self.out.session_facts = true;
                    return;
                }
                None => {}
            }
        }
        self.out.routine_calls.insert(TableName {
            schema: None,
            name: t.text,
        });
    }

    pub(super) fn expr_word(&mut self, t: Token<'a>) {
        match t.kw {
            Kw::Select => self.frames[self.depth].select_seen = true,
            Kw::From if self.frames[self.depth].select_seen => {
                self.set_mode(Mode::ExpectTable);
                if self.stmt.is_delete && self.at_top() && self.stmt.delete_mark.is_none() {
                    self.stmt.delete_mark = Some(self.out.tables.len());
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
            Kw::For if matches!(self.peek(0).kw, Kw::Update | Kw::Share) => {
                self.next();
                self.out.locking_read = true;
            }
            Kw::Lock if self.peek(0).kw == Kw::In => {
                self.next();
                self.out.locking_read = true;
            }
            Kw::Next | Kw::Previous
                if self.peek(0).kw == Kw::Value && self.peek(1).kw == Kw::For =>
            {
                self.next();
                self.next();
                self.out.side_effects = true;
                self.record_next_name();
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
            _ => self.callee(t),
        }
    }

    pub(super) fn expect_table(&mut self, t: Token<'a>) {
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
                    self.callee(t);
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

    pub(super) fn after_table(&mut self, t: Token<'a>) {
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
                Kw::As if is_name(self.peek(0)) || self.peek(0).tok == Tok::String => {
                    self.next();
                }
                Kw::As => {}
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

    pub(super) fn join_cond(&mut self, t: Token<'a>) {
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
