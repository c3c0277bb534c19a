"""candlefish-recovery: disaster recovery and rollback for a secrets-management platform."""

__version__ = "0.1.0"
