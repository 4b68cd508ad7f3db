//! Configuration, read once from the environment into a validated struct; secrets never print.
