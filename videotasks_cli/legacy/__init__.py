"""The old backend's history (Express + Prisma + PostgreSQL) into this service's tables: `videotasks import-legacy`."""
