CREATE TABLE "queue_heartbeats" (
	"id" uuid PRIMARY KEY NOT NULL,
	"enqueued_at" timestamp with time zone NOT NULL,
	"processed_at" timestamp with time zone
);
