CREATE TABLE "hub_broadcasts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"request" jsonb NOT NULL,
	"segment_id" text,
	"recipient_count" integer NOT NULL,
	"state" text NOT NULL,
	"engine_broadcast_id" text,
	"totals" jsonb,
	"waiting_reason" text,
	"error" jsonb,
	"created_by" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hub_posts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"request" jsonb NOT NULL,
	"state" text NOT NULL,
	"engine_post_id" text,
	"published_id" text,
	"error" jsonb,
	"created_by" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "hub_broadcasts_engine_idx" ON "hub_broadcasts" USING btree ("engine_broadcast_id");--> statement-breakpoint
CREATE INDEX "hub_broadcasts_created_idx" ON "hub_broadcasts" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "hub_posts_engine_post_idx" ON "hub_posts" USING btree ("engine_post_id");--> statement-breakpoint
CREATE INDEX "hub_posts_created_idx" ON "hub_posts" USING btree ("created_at");