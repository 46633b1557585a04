//! Flags, automatic checks at write time, per-unit moderation settings and story pre-moderation.
