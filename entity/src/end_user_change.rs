use sea_orm::entity::prelude::*;

/// SQLite: end users an instance changed, for every instance to forget (`payload` names them
/// as `org:id,id;org:id`). PostgreSQL announces the same through LISTEN/NOTIFY instead.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "end_user_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub payload: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
