CREATE TABLE "channel_connections" (
	"platform" text NOT NULL,
	"channel_id" text NOT NULL,
	"object_id" text NOT NULL,
	"meta_app" text NOT NULL,
	"state" text NOT NULL,
	"subscribed_at" timestamp with time zone,
	"last_error" jsonb,
	"retry_id" uuid,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "channel_connections_platform_channel_id_pk" PRIMARY KEY("platform","channel_id")
);
--> statement-breakpoint
CREATE TABLE "config_snapshot" (
	"id" integer PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL,
	"body" jsonb NOT NULL,
	"fetched_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outbound_items" (
	"message_id" text PRIMARY KEY NOT NULL,
	"lane" text NOT NULL,
	"priority" smallint NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "outbound_items_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"recipient" text NOT NULL,
	"batch" text,
	"not_before" timestamp with time zone NOT NULL,
	"claimed_by" uuid,
	"claimed_until" timestamp with time zone,
	"claims" integer DEFAULT 0 NOT NULL,
	"enqueued_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outbound_lanes" (
	"lane" text PRIMARY KEY NOT NULL,
	"next_slot_ms" double precision NOT NULL,
	"slow_factor" double precision DEFAULT 1 NOT NULL,
	"slow_until" timestamp with time zone,
	"paused_reason" text,
	"paused_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "outbound_recipient_holds" (
	"lane" text NOT NULL,
	"recipient" text NOT NULL,
	"until" timestamp with time zone NOT NULL,
	CONSTRAINT "outbound_recipient_holds_lane_recipient_pk" PRIMARY KEY("lane","recipient")
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
ALTER TABLE "conversation_leases" ADD COLUMN "contended" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "instance_routes" ADD COLUMN "kind" text DEFAULT 'nexus' NOT NULL;--> statement-breakpoint
ALTER TABLE "instance_routes" ADD COLUMN "state" text DEFAULT 'active' NOT NULL;--> statement-breakpoint
ALTER TABLE "instance_routes" ADD COLUMN "endpoint_revision" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "outbound_items_lane_order_idx" ON "outbound_items" USING btree ("lane","priority","seq");--> statement-breakpoint
CREATE INDEX "outbound_items_batch_idx" ON "outbound_items" USING btree ("batch") WHERE batch is not null;--> statement-breakpoint
CREATE INDEX "outbound_items_claimed_by_idx" ON "outbound_items" USING btree ("claimed_by") WHERE claimed_by is not null;--> statement-breakpoint
CREATE INDEX "report_outbox_unsent_idx" ON "report_outbox" USING btree ("next_attempt_at","id") WHERE sent_at is null;--> statement-breakpoint
CREATE INDEX "report_outbox_sent_idx" ON "report_outbox" USING btree ("sent_at") WHERE sent_at is not null;