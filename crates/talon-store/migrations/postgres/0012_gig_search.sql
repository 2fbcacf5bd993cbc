-- Gig search: the skills filter, and the sorts whose tie-break (id, newest first) runs against the
-- direction of their key, each with an index over listed gigs that yields its whole order.

-- A gig's required skills in lower case, one row each, so `skills=a,b` (any of) is an index lookup.
CREATE TABLE gig_skills (
    skill  TEXT NOT NULL,
    gig_id UUID NOT NULL REFERENCES gigs (id) ON DELETE CASCADE,
    PRIMARY KEY (skill, gig_id)
);
CREATE INDEX gig_skills_by_gig ON gig_skills (gig_id);

CREATE INDEX gigs_listed_budget_asc ON gigs (budget_micros, id DESC)
    WHERE status = 'open' AND moderation_status = 'approved';
-- Soonest deadline first, gigs without one last.
CREATE INDEX gigs_listed_deadline_first ON gigs ((deadline IS NULL), deadline, id DESC)
    WHERE status = 'open' AND moderation_status = 'approved';

-- A category filter with a budget or deadline sort walks one of these in order and stops at the page.
CREATE INDEX gigs_listed_category_budget ON gigs (category, budget_micros, id)
    WHERE status = 'open' AND moderation_status = 'approved';
CREATE INDEX gigs_listed_category_budget_asc ON gigs (category, budget_micros, id DESC)
    WHERE status = 'open' AND moderation_status = 'approved';
CREATE INDEX gigs_listed_category_deadline ON gigs (category, (deadline IS NULL), deadline, id DESC)
    WHERE status = 'open' AND moderation_status = 'approved';

-- Bumped by every change to what search may list, so a count of listed gigs is reused until the
-- listing changes (on any replica). Once per statement, so a bulk change bumps it once.
CREATE TABLE gig_listing_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO gig_listing_version (id, version) VALUES (1, 0);
CREATE FUNCTION bump_gig_listing_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE gig_listing_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER gigs_listing_changed AFTER INSERT OR DELETE OR UPDATE OF status, moderation_status, category,
    budget_micros, deadline, title, description ON gigs
    FOR EACH STATEMENT EXECUTE FUNCTION bump_gig_listing_version();
