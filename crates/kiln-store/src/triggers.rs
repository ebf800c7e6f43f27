//! Pipeline trigger tokens (`glptt-`). Only the digest is stored, so the token is
//! shown once, at creation; afterwards the API can show its first characters
//! (`token_hint`), where GitLab shows the owner the whole token.

use serde::Serialize;

use crate::Store;
use crate::codec::Millis;
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{ProjectId, TriggerId, UserId};
use crate::token::{self, TokenKind};

/// A trigger token's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    pub id: TriggerId,
    pub project_id: ProjectId,
    pub owner_id: Option<UserId>,
    pub description: String,
    /// The token's first characters (`glptt-ab12`), enough to recognise it.
    pub token_hint: String,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// `last_used_at` is written at most this often.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

impl Store {
    /// Creates a trigger token; the clear token is returned only here.
    pub async fn create_trigger(
        &self,
        project: ProjectId,
        owner: UserId,
        description: &str,
        expires_at: Option<Millis>,
    ) -> Result<(Trigger, String)> {
        let token = token::generate(TokenKind::Trigger)?;
        let hint: String = token.token.chars().take(TokenKind::Trigger.prefix().len() + 4).collect();
        let now = Millis::now();
        let trigger = write_tx!(self, |c, q| q::triggers::create(
            c,
            project,
            owner,
            description,
            expires_at,
            &token.digest,
            &hint,
            now
        )
        .await?)?;
        Ok((trigger, token.token))
    }

    /// The trigger a token belongs to (unknown and expired alike are
    /// [`Error::NotFound`]).
    pub async fn trigger_by_token(&self, token: &str, now: Millis) -> Result<Trigger> {
        let digest = token::digest(token);
        let (trigger, stored) = read_tx!(self, |c, q| q::triggers::by_digest(c, &digest).await?)?;
        if !token::matches(token, &stored) || trigger.expires_at.is_some_and(|e| e <= now) {
            return Err(Error::NotFound("trigger"));
        }
        if trigger.last_used_at.is_none_or(|t| now.0 - t.0 >= LAST_USED_RESOLUTION_MS) {
            write_tx!(self, |c, q| q::triggers::touch(c, trigger.id, now).await?)?;
        }
        Ok(trigger)
    }

    /// One trigger.
    pub async fn trigger(&self, id: TriggerId) -> Result<Trigger> {
        read_tx!(self, |c, q| q::triggers::by_id(c, id).await?)
    }

    /// A project's triggers.
    pub async fn list_triggers(&self, project: ProjectId) -> Result<Vec<Trigger>> {
        read_tx!(self, |c, q| q::triggers::list(c, project).await?)
    }

    /// Changes a trigger's description.
    pub async fn update_trigger(&self, id: TriggerId, description: &str) -> Result<Trigger> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::triggers::update(c, id, description, now).await?)
    }

    /// Deletes a trigger.
    pub async fn delete_trigger(&self, id: TriggerId) -> Result<()> {
        write_tx!(self, |c, q| q::triggers::delete(c, id).await?)
    }
}
