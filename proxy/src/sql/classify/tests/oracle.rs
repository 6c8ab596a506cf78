//! sqlparser's view of a statement, the reference the classifier is tested
//! against: the kind of the first statement and every table named, derived
//! from a full parse with `MySqlDialect`.
//!
//! sqlparser's relation visitor misses some names the classifier reports on
//! purpose (DROP and RENAME targets, `LIKE` sources, foreign key parents,
//! `TABLE t`, LOCK TABLES, trigger tables); those are added here so that both
//! sides describe the same contract, stated in the classifier's module doc.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    AlterTableOperation, ColumnOption, CreateTableLikeKind, Ident, ObjectName, ObjectType, Query,
    RenameTableNameKind, SetExpr, Statement, TableConstraint, Visit, Visitor,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::StatementKind;

pub(super) struct Facts {
    pub kind: StatementKind,
    /// `schema.name` or `name`, lower-cased.
    pub tables: BTreeSet<String>,
}

/// `None` when sqlparser cannot parse the text.
pub(super) fn facts(sql: &str) -> Option<Facts> {
    let statements = Parser::parse_sql(&MySqlDialect {}, sql).ok()?;
    let kind = statements.first().map_or(StatementKind::Other, kind_of);
    let mut names = Names::default();
    for statement in &statements {
        let _ = statement.visit(&mut names);
    }
    let tables = names
        .tables
        .into_iter()
        .filter(|(schema, name)| schema.is_some() || !names.ctes.contains(name))
        .map(|(schema, name)| match schema {
            Some(schema) => format!("{schema}.{name}").to_lowercase(),
            None => name.to_lowercase(),
        })
        .collect();
    Some(Facts { kind, tables })
}

fn kind_of(statement: &Statement) -> StatementKind {
    use StatementKind as K;
    match statement {
        // `WITH ... UPDATE` parses as a query whose body is the UPDATE.
        Statement::Query(query) => match &*query.body {
            SetExpr::Update(inner) | SetExpr::Delete(inner) | SetExpr::Insert(inner) => {
                kind_of(inner)
            }
            _ => K::Select,
        },
        Statement::Insert(insert) if insert.replace_into => K::Replace,
        Statement::Insert(_) | Statement::LoadData { .. } => K::Insert,
        Statement::Update(_) => K::Update,
        Statement::Delete(_) => K::Delete,
        Statement::CreateTable(_)
        | Statement::CreateView(_)
        | Statement::CreateIndex(_)
        | Statement::CreateDatabase { .. }
        | Statement::CreateSchema { .. }
        | Statement::CreateFunction(_)
        | Statement::CreateProcedure { .. }
        | Statement::CreateTrigger(_)
        | Statement::CreateSequence { .. }
        | Statement::CreateUser(_)
        | Statement::CreateRole(_)
        | Statement::AlterTable(_)
        | Statement::AlterView { .. }
        | Statement::AlterUser(_)
        | Statement::AlterSchema(_)
        | Statement::Drop { .. }
        | Statement::DropFunction(_)
        | Statement::DropProcedure { .. }
        | Statement::DropTrigger(_)
        | Statement::Truncate(_)
        | Statement::RenameTable(_)
        | Statement::Grant(_)
        | Statement::Revoke(_) => K::Ddl,
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => K::Transaction,
        Statement::Set(_) => K::Set,
        _ => K::Other,
    }
}

#[derive(Default)]
struct Names {
    tables: Vec<(Option<String>, String)>,
    ctes: BTreeSet<String>,
}

impl Names {
    fn add(&mut self, name: &ObjectName) {
        let parts: Vec<&Ident> = name.0.iter().filter_map(|part| part.as_ident()).collect();
        match parts.as_slice() {
            // Only the keyword DUAL is no table; `dual` in backticks is one.
            [name] if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("dual") => {}
            [name] => self.tables.push((None, name.value.clone())),
            [.., schema, name] => self
                .tables
                .push((Some(schema.value.clone()), name.value.clone())),
            [] => {}
        }
    }

    fn add_set_expr_tables(&mut self, body: &SetExpr) {
        match body {
            SetExpr::Table(table) => {
                if let Some(name) = &table.table_name {
                    self.tables.push((table.schema_name.clone(), name.clone()));
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.add_set_expr_tables(left);
                self.add_set_expr_tables(right);
            }
            _ => {}
        }
    }

    fn add_constraint(&mut self, constraint: &TableConstraint) {
        if let TableConstraint::ForeignKey(fk) = constraint {
            self.add(&fk.foreign_table);
        }
    }
}

impl Visitor for Names {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        self.add(relation);
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.clone());
            }
        }
        self.add_set_expr_tables(&query.body);
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        match statement {
            Statement::Drop {
                object_type,
                names,
                table,
                ..
            } => {
                if matches!(
                    object_type,
                    ObjectType::Table | ObjectType::View | ObjectType::Sequence
                ) {
                    names.iter().for_each(|name| self.add(name));
                }
                if let Some(table) = table {
                    self.add(table);
                }
            }
            Statement::RenameTable(renames) => {
                for rename in renames {
                    self.add(&rename.old_name);
                    self.add(&rename.new_name);
                }
            }
            Statement::CreateTable(create) => {
                match &create.like {
                    Some(CreateTableLikeKind::Plain(like))
                    | Some(CreateTableLikeKind::Parenthesized(like)) => self.add(&like.name),
                    None => {}
                }
                create
                    .constraints
                    .iter()
                    .for_each(|c| self.add_constraint(c));
                for column in &create.columns {
                    for option in &column.options {
                        if let ColumnOption::ForeignKey(fk) = &option.option {
                            self.add(&fk.foreign_table);
                        }
                    }
                }
            }
            Statement::AlterTable(alter) => {
                for operation in &alter.operations {
                    match operation {
                        AlterTableOperation::RenameTable { table_name } => match table_name {
                            RenameTableNameKind::As(name) | RenameTableNameKind::To(name) => {
                                self.add(name)
                            }
                        },
                        AlterTableOperation::AddConstraint { constraint, .. } => {
                            self.add_constraint(constraint)
                        }
                        _ => {}
                    }
                }
            }
            Statement::LockTables { tables } => {
                for lock in tables {
                    self.tables.push((None, lock.table.value.clone()));
                }
            }
            Statement::CreateTrigger(trigger) => self.add(&trigger.table_name),
            Statement::LoadData { table_name, .. } => self.add(table_name),
            Statement::CreateSequence { name, .. } => self.add(name),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
