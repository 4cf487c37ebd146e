/**
 * Entry point of the self-contained agent executable (Node SEA, built by scripts/build-sea.mjs).
 * Import order is the point: the native addon is registered before main.ts starts the CLI.
 */
import './load-native.js';
import '../main.js';
