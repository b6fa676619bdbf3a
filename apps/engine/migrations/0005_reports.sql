CREATE TABLE "config_snapshot" (
	"id" integer PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL,
	"body" jsonb NOT NULL,
	"fetched_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "report_leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"leased_until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "report_outbox" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"next_attempt_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "instance_routes" ALTER COLUMN "webhook_url" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "instance_routes" ADD COLUMN "kind" text DEFAULT 'nexus' NOT NULL;--> statement-breakpoint
ALTER TABLE "instance_routes" ADD COLUMN "state" text DEFAULT 'active' NOT NULL;--> statement-breakpoint
ALTER TABLE "instance_routes" ADD COLUMN "endpoint_revision" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "report_outbox_unsent_idx" ON "report_outbox" USING btree ("next_attempt_at","id") WHERE sent_at is null;--> statement-breakpoint
CREATE INDEX "report_outbox_sent_idx" ON "report_outbox" USING btree ("sent_at") WHERE sent_at is not null;