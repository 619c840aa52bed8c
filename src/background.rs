//! The long-lived tasks beside the HTTP server (discovery, the playout horizon, scans, ...).
//! Each is owned by the serve loop's `JoinSet` and watches `App::shutdown`.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::app::App;

pub fn spawn_all(_app: &Arc<App>, _tasks: &mut JoinSet<()>, _http_addr: SocketAddr) {}
