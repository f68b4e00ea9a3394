//! Several nodes, one cluster: real PostgreSQL (and Redis) servers started by the
//! tests, tessera nodes on free loopback ports sharing them, driven over HTTP.

mod limits;
mod nodes;
mod outages;
mod propagation;
