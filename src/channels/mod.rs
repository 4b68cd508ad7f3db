//! Telegram and widget: signature checks and payload parsing (pure), and the outbound notifier port.
