//! Use cases, generic over the store ports, given `now` explicitly.
