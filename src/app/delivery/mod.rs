//! What runs beside the requests: signed webhooks in (Telegram, the widget), notifications out
//! through the outbox, and the cron's maintenance.

pub mod crm_events;
pub mod email;
pub mod email_recipients;
pub mod maintenance;
pub mod notify;
pub mod outbox_status;
pub mod webhooks;
