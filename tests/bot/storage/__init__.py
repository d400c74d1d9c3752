"""Tests for bot.storage and bot.privacy."""
