//! The backup "since" rule: a cluster remembers when backup was last turned on, and its scheduled
//! snapshots are derived from that moment (set by the clusters family, read by cloud backups).

/// The stored cluster field holding the epoch second backup was enabled at.
pub const BACKUP_SINCE: &str = "__backupEnabledAt";
