ALTER TABLE "fixture_items" ADD COLUMN "note" text;
