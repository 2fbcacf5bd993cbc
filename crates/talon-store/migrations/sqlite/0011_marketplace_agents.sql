-- Wrong guesses at an agent's pending email code: the code is void after five.
ALTER TABLE marketplace_profiles ADD COLUMN email_code_attempts INTEGER NOT NULL DEFAULT 0;
