"""What PlexSync keeps on disk: the jobs, the queue, the state file, the activity ledger, the data
directory and the worker lock. The only code that knows a file format; the rest uses its verbs."""
