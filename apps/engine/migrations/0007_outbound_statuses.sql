CREATE TABLE "early_statuses" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "early_statuses_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"meta_message_id" text NOT NULL,
	"state" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"error" jsonb,
	"raw" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "envelope" jsonb;--> statement-breakpoint
ALTER TABLE "inbound_events" ADD COLUMN "envelope" jsonb;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "graph_request" jsonb;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "graph_answer" jsonb;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "outbound_messages" ADD COLUMN "sent_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "early_statuses_meta_id_idx" ON "early_statuses" USING btree ("meta_message_id");--> statement-breakpoint
CREATE INDEX "early_statuses_received_idx" ON "early_statuses" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "outbound_messages_unread_idx" ON "outbound_messages" USING btree ("channel","recipient","sent_at") WHERE state in ('sent', 'delivered');