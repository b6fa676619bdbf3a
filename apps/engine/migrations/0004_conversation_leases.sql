CREATE TABLE "conversation_leases" (
	"instance_id" text NOT NULL,
	"conversation" text NOT NULL,
	"holder" uuid NOT NULL,
	"leased_until" timestamp with time zone NOT NULL,
	CONSTRAINT "conversation_leases_instance_id_conversation_pk" PRIMARY KEY("instance_id","conversation")
);
