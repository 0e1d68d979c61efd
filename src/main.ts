// Order matters: the telemetry preload must patch http, pg and undici before the app
// loads them, so it is imported (and run) first.
import './instrument';
import './bootstrap';
