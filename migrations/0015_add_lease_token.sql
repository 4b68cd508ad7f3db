-- The CRM push's lease as a random token beside its end time: a run's saves require its own token,
-- so a run that lost the lease (it outlived it, or a replay reset it) writes nothing, where a time
-- alone could match another run that took the lease in the same second.
ALTER TABLE outbox_cursors ADD COLUMN lease_token TEXT;
