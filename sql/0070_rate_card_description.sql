-- The default card's description names the repository's own rules page (stacks created before
-- 0004 was reworded still hold the old text).
UPDATE rate_card SET description = 'default card (docs/rules.md, Settlement)'
WHERE version = 1 AND description <> 'default card (docs/rules.md, Settlement)';
