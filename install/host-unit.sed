# host-unit.sed - the appliance's unit (image/rootfs/etc/systemd/system/smarthost.service) for a
# normal host, so both keep one hardening: only the binary's path, the documentation and the
# appliance-only ordering change. @SBINDIR@ is replaced by install.sh.
1s|^# smarthost.service - the relay, hardened.|# smarthost.service - the relay, hardened (installed by make install; made from the appliance's unit).|
s|^Documentation=.*|Documentation=man:smarthost(8) man:smarthost-run(8)|
s|^After=network-online.target .*|After=network-online.target|
s|/usr/sbin/smarthost|@SBINDIR@/smarthost|g
