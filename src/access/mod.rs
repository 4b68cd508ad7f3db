//! Effective policy, object visibility and the Decision-with-reasons that gates and diagnostics share. No I/O.
