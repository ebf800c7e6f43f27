-- Live log chunks are stored as they come, without compression (EXTERNAL:
-- out of line, never pglz). They are written once per `PATCH /trace`, read once
-- when the finished log is archived to the blob store, then deleted; compressing
-- them cost ~5 ms of a log patch's ~6 ms per MiB (log ingest at ~150 MB/s). The
-- archived log in the blob store is what stays.
ALTER TABLE trace_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
