//! Pipeline processing: the job and pipeline state machine, pure and clock-free.
