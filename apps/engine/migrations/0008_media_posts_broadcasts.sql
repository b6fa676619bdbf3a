CREATE TABLE "broadcast_recipients" (
	"broadcast_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"recipient" text NOT NULL,
	"components" jsonb,
	"state" text NOT NULL,
	"message_id" uuid,
	"error" jsonb,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "broadcast_recipients_broadcast_id_seq_pk" PRIMARY KEY("broadcast_id","seq")
);
--> statement-breakpoint
CREATE TABLE "broadcasts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"instance_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"name" text,
	"message" jsonb NOT NULL,
	"state" text NOT NULL,
	"waiting_reason" text,
	"waiting_until" timestamp with time zone,
	"duplicates" integer NOT NULL,
	"idempotency_key" text,
	"scheduled_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"progress_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_windows" (
	"channel_id" text NOT NULL,
	"customer" text NOT NULL,
	"last_inbound_at" timestamp with time zone NOT NULL,
	CONSTRAINT "customer_windows_channel_id_customer_pk" PRIMARY KEY("channel_id","customer")
);
--> statement-breakpoint
CREATE TABLE "messaging_reach" (
	"scope" text NOT NULL,
	"customer" text NOT NULL,
	"reached_at" timestamp with time zone NOT NULL,
	CONSTRAINT "messaging_reach_scope_customer_pk" PRIMARY KEY("scope","customer")
);
--> statement-breakpoint
CREATE TABLE "opt_outs" (
	"tenant_id" text NOT NULL,
	"recipient" text NOT NULL,
	"source" text NOT NULL,
	"keyword" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "opt_outs_tenant_id_recipient_pk" PRIMARY KEY("tenant_id","recipient")
);
--> statement-breakpoint
CREATE TABLE "graph_media" (
	"instance_id" text NOT NULL,
	"media_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"origin" text NOT NULL,
	"meta_url" text,
	"meta_url_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "graph_media_instance_id_media_id_pk" PRIMARY KEY("instance_id","media_id")
);
--> statement-breakpoint
CREATE TABLE "graph_media_calls" (
	"id" uuid PRIMARY KEY NOT NULL,
	"instance_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"action" text NOT NULL,
	"media_id" text,
	"channel_id" text,
	"status" integer NOT NULL,
	"code" integer,
	"bytes" bigint,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "post_events" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "post_events_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"post_id" uuid NOT NULL,
	"state" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"step" text,
	"attempt" integer,
	"detail" text,
	"error" jsonb,
	"is_outcome_unknown" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "posts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"instance_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"platform" text NOT NULL,
	"channel_id" text NOT NULL,
	"content" jsonb NOT NULL,
	"state" text NOT NULL,
	"publish_at" timestamp with time zone,
	"waiting_reason" text,
	"next_attempt_at" timestamp with time zone,
	"run_id" uuid,
	"lease_holder" uuid,
	"lease_until" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"polls" integer DEFAULT 0 NOT NULL,
	"child_container_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"container_id" text,
	"containers_created_at" timestamp with time zone,
	"publish_started_at" timestamp with time zone,
	"published_id" text,
	"publish_answer" jsonb,
	"error" jsonb,
	"idempotency_key" text,
	"request_hash" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"published_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "whatsapp_accounts" (
	"waba_id" text PRIMARY KEY NOT NULL,
	"portfolio_id" text,
	"synced_at" timestamp with time zone,
	"sync_error" text,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "whatsapp_numbers" (
	"phone_number_id" text PRIMARY KEY NOT NULL,
	"waba_id" text NOT NULL,
	"messaging_tier" text,
	"synced_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "whatsapp_templates" (
	"waba_id" text NOT NULL,
	"name" text NOT NULL,
	"language" text NOT NULL,
	"template_id" text NOT NULL,
	"category" text NOT NULL,
	"status" text NOT NULL,
	"parameter_format" text NOT NULL,
	"components" jsonb NOT NULL,
	"parameters" jsonb NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "whatsapp_templates_waba_id_name_language_pk" PRIMARY KEY("waba_id","name","language")
);
--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "broadcast_id" uuid;--> statement-breakpoint
CREATE UNIQUE INDEX "broadcast_recipients_recipient_idx" ON "broadcast_recipients" USING btree ("broadcast_id","recipient");--> statement-breakpoint
CREATE INDEX "broadcast_recipients_state_idx" ON "broadcast_recipients" USING btree ("broadcast_id","state","seq");--> statement-breakpoint
CREATE INDEX "broadcast_recipients_message_idx" ON "broadcast_recipients" USING btree ("message_id") WHERE message_id is not null;--> statement-breakpoint
CREATE INDEX "broadcasts_active_idx" ON "broadcasts" USING btree ("state") WHERE state in ('scheduled', 'running', 'waiting');--> statement-breakpoint
CREATE UNIQUE INDEX "broadcasts_idempotency_idx" ON "broadcasts" USING btree ("instance_id","idempotency_key") WHERE idempotency_key is not null;--> statement-breakpoint
CREATE INDEX "messaging_reach_scope_idx" ON "messaging_reach" USING btree ("scope","reached_at");--> statement-breakpoint
CREATE INDEX "graph_media_expires_idx" ON "graph_media" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "graph_media_calls_instance_at_idx" ON "graph_media_calls" USING btree ("instance_id","at");--> statement-breakpoint
CREATE INDEX "post_events_post_idx" ON "post_events" USING btree ("post_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "posts_idempotency_idx" ON "posts" USING btree ("instance_id","idempotency_key") WHERE idempotency_key is not null;--> statement-breakpoint
CREATE INDEX "posts_instance_idx" ON "posts" USING btree ("instance_id","id");--> statement-breakpoint
CREATE INDEX "posts_account_published_idx" ON "posts" USING btree ("platform","channel_id","published_at") WHERE published_at is not null;--> statement-breakpoint
CREATE INDEX "whatsapp_templates_template_id_idx" ON "whatsapp_templates" USING btree ("template_id");