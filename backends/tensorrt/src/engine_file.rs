//! engine_file
