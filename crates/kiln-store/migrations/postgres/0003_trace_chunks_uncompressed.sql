-- Live log chunks are stored as they come, without compression (EXTERNAL:
-- out of line, never pglz). They are written once per `PATCH /trace`, read once
-- when the finished log is archived to the blob store, then deleted. Inserting
-- 96 MiB as 128 KiB chunks took 3.0 s with pglz on a real log (git log -p text,
-- stored at 43% of its size) and 4.6 s on text pglz could not shrink, against
-- 0.6-1.0 s uncompressed; only very repetitive text (one line repeated)
-- compressed faster than it wrote. The archived log in the blob store is what
-- stays.
ALTER TABLE trace_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
