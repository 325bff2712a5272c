# host-config.sed - the sample config/smarthost.cfg (made for `make run` in the source tree) as the
# installed sample: absolute paths, port 25 on every address, the "smarthost" user of the unit.
s|^# Paths here are relative to the source tree so that `make run` works as is.|# Installed by make install; paths are those the systemd unit expects.|
s|^# make run: loopback only, on an unprivileged port.|# Every address, port 25 (the unit keeps CAP_NET_BIND_SERVICE for it).|
s|^listen = ( { address = "127.0.0.1"; port = 2525; } );|listen = ( { address = "0.0.0.0"; port = 25; }, { address = "::"; port = 25; } );|
s|"var/tls/relay.pem";              # made by config/make-run-cert.sh|"/etc/smarthost/certs/relay.pem"; # yours, or lib/smarthost/make-cert makes one|
s|"var/tls/relay.key"|"/etc/smarthost/certs/relay.key"|
s|"var/queue"|"/var/lib/smarthost/queue"|
s|^user = "nobody";|user = "smarthost";|
