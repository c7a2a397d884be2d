#!/usr/bin/env bash
# record-negatives.sh [OUTDIR] — record farhand's own negatives: ordinary enterprise protocols
# spoken by real servers and clients (databases, directory, file sharing, infrastructure,
# web APIs, a SIP call) that must raise no remote-control, relay or tunnel alert, and machine
# SSH (rsync, git, scp) that is SSH but nobody typing — all between two network namespaces
# this script creates.
# Default OUTDIR: tests/cases (relative to the repository root); writes
#   OUTDIR/own-neg-databases/input.pcap  PostgreSQL (plain and TLS), MariaDB (plain and TLS),
#                                        Redis commands, SUBSCRIBE/PUBLISH and a replica's
#                                        full sync from its primary
#   OUTDIR/own-neg-directory/input.pcap  LDAP (simple binds, searches, a modify, StartTLS) and
#                                        Kerberos (kinit with pre-authentication, kvno)
#   OUTDIR/own-neg-smb/input.pcap        Samba: share listing, two downloads and an upload (SMB3)
#   OUTDIR/own-neg-infra/input.pcap      NTP (chrony), SNMP v1/v2c/v3 (net-snmp), MQTT
#                                        (mosquitto)
#   OUTDIR/own-neg-web/input.pcap        HTTP/2 over TLS and cleartext h2c (nghttp2), gRPC
#                                        (scripts/negatives/grpc_app.py), a WebSocket app
#                                        (scripts/negatives/ws_app.py)
#   OUTDIR/own-neg-voip/input.pcap       a SIP call with RTP (two baresip user agents)
#   OUTDIR/own-ssh-machine/input.pcap    rsync -e ssh, git clone over ssh, scp (SFTP and the
#                                        legacy protocol) to OpenSSH
# (only input.pcap is written; each case's expect.toml and README.md are kept by hand).
#
# Topology (nothing leaves the machine):
#
#   fhq-endpoint "company laptop"                fhq-inet "the internet"
#   10.32.0.10/24 dev fhq-ep <==== veth ====>   dev fhq-in 203.0.113.1 (router, does not forward)
#     clients, a Redis replica (:6380)           203.0.113.50  PostgreSQL :5432
#     and the calling SIP phone                  203.0.113.51  MariaDB :3306
#     route 203.0.113.0/24 on the link           203.0.113.52  Redis :6379 (the primary)
#                                                203.0.113.54  OpenLDAP slapd :389
#                                                203.0.113.55  MIT Kerberos KDC :88
#                                                203.0.113.56  Samba smbd :445
#                                                203.0.113.57  chronyd (NTP server) :123
#                                                203.0.113.58  snmpd :161
#                                                203.0.113.59  mosquitto :1883
#                                                203.0.113.60  nghttpd :443 (TLS) and :80 (h2c)
#                                                203.0.113.61  WebSocket app :8080
#                                                203.0.113.62  gRPC app :50051
#                                                203.0.113.63  the answering SIP phone :5060
#                                                              (alone on fhq-sip, see below)
#                                                203.0.113.64  OpenSSH sshd :22
#   tcpdump -s 0 on fhq-ep, one capture file per case; offloads off (wire-sized frames, valid
#   checksums); IPv6 off in both namespaces. Every server and client binds or routes only to
#   these addresses; no name is resolved (clients are given addresses).
#
# Usage (as root): scripts/record-negatives.sh [OUTDIR]; FHQ_CASES="own-neg-web own-neg-voip"
# records only the cases named (the servers all start anyway). Installs missing Debian packages;
# while it does, a policy-rc.d that forbids starting services is put in place if there is
# none (so the packaged servers do not start on the host), and removed afterwards. Every
# server here runs from a configuration in the scratch dir. Idempotent: removes its own
# leftovers (namespaces fhq-*, scratch dir $FHQ_WORK, default /tmp/fhq-negatives) first.
# Logs stay in the scratch dir. About two minutes once the packages are in.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUTDIR=${1:-$REPO/tests/cases}
WORK=${FHQ_WORK:-/tmp/fhq-negatives}
HELP=$REPO/scripts/negatives
PY=/usr/bin/python3   # Debian's, which has python3-grpcio and python3-websockets
EP=fhq-endpoint INET=fhq-inet EP_IF=fhq-ep INET_IF=fhq-in
LAPTOP=10.32.0.10 ROUTER=203.0.113.1
PG=203.0.113.50 MARIA=203.0.113.51 REDIS=203.0.113.52 LDAP=203.0.113.54 KDC=203.0.113.55
SMB=203.0.113.56 NTP=203.0.113.57 SNMP=203.0.113.58 MQTT=203.0.113.59 WEB=203.0.113.60
WS=203.0.113.61 GRPC=203.0.113.62 SIP=203.0.113.63 SSH=203.0.113.64
SERVERS="$PG $MARIA $REDIS $LDAP $KDC $SMB $NTP $SNMP $MQTT $WEB $WS $GRPC $SIP $SSH"

NAME=record-negatives ONLY=${FHQ_CASES:-}
# shellcheck source=scripts/lib/netns-record.sh
. "$REPO/scripts/lib/netns-record.sh"

PKGS="iproute2 ethtool tcpdump procps openssl python3 util-linux
  postgresql postgresql-client mariadb-server mariadb-client redis-server redis-tools
  slapd ldap-utils krb5-kdc krb5-admin-server krb5-user samba smbclient
  chrony snmpd snmp mosquitto mosquitto-clients
  nghttp2-server nghttp2-client python3-grpcio python3-websockets baresip-core
  openssh-server openssh-client rsync git"
# shellcheck disable=SC2086
begin $PKGS
PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

cert() {  # cert NAME CN: self-signed RSA certificate NAME.crt / NAME.key in the current dir
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.crt" >/dev/null 2>&1
}

say "creating namespaces $EP ($LAPTOP) and $INET ($ROUTER, $SERVERS)"
make_link $LAPTOP/24 $ROUTER/24 02:00:0a:20:00:0a 02:00:cb:00:71:03
for a in $SERVERS; do [ "$a" = $SIP ] || ininet ip addr add "$a/32" dev $INET_IF; done
# The answering phone's address sits alone on an interface of its own (one end of a veth pair
# kept inside fhq-inet), which baresip takes its media address from: otherwise it would take
# the first address of fhq-in, the router's.
ininet ip link add fhq-sip type veth peer name fhq-sip-x
ininet ip addr add $SIP/32 dev fhq-sip
ininet ip link set fhq-sip up; ininet ip link set fhq-sip-x up
inep   ip route add 203.0.113.0/24 dev $EP_IF
ininet ip route add 10.32.0.0/24 dev $INET_IF src $ROUTER
# The answering phone's RTP/RTCP sockets (ports 10000-10019) are bound to no address: make what
# they send leave from the phone's address too, not from the route's source (the router's).
ininet ip rule add ipproto udp sport 10000-10019 table 100
ininet ip route add 10.32.0.0/24 dev $INET_IF src $SIP table 100

# ------------------------------------------------------------------ servers
cd "$WORK"

# PostgreSQL: a cluster of its own, password (SCRAM) logins from the laptop's network, TLS on.
mkdir -p pg; chown postgres: pg
( cd pg && cert tls fhq-db.farhand.test && chown postgres: tls.key tls.crt && chmod 600 tls.key )
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth-local=trust \
  --auth-host=scram-sha-256 > pg-initdb.log 2>&1
cat >> pg/data/postgresql.conf <<CONF
listen_addresses = '$PG'
port = 5432
unix_socket_directories = '$WORK/pg'
ssl = on
ssl_cert_file = '$WORK/pg/tls.crt'
ssl_key_file = '$WORK/pg/tls.key'
CONF
echo "host all all 10.32.0.0/24 scram-sha-256" >> pg/data/pg_hba.conf
spawn $INET postgres runuser -u postgres -- "$PGBIN/postgres" -D "$WORK/pg/data"

# MariaDB: a data directory of its own, root by socket only, an application user over TCP.
mkdir -p mysql; chown mysql: mysql
( cd mysql && cert tls fhq-mariadb.farhand.test && chown mysql: tls.key tls.crt && chmod 600 tls.key )
ininet mariadb-install-db --no-defaults --user=mysql --datadir="$WORK/mysql/data" \
  --auth-root-authentication-method=socket --skip-test-db > mariadb-install.log 2>&1
spawn $INET mariadb mariadbd --no-defaults --user=mysql --datadir="$WORK/mysql/data" \
  --socket="$WORK/mysql/sock" --pid-file="$WORK/mysql/pid" --bind-address=$MARIA --port=3306 \
  --skip-name-resolve --ssl-cert="$WORK/mysql/tls.crt" --ssl-key="$WORK/mysql/tls.key"

# Redis: the primary (password set; the replica on the laptop starts during the capture).
mkdir -p redis redis-replica
spawn $INET redis redis-server --bind $REDIS --port 6379 --protected-mode no --save '' \
  --appendonly no --dir "$WORK/redis" --requirepass redis-pw --repl-diskless-sync-delay 0

# OpenLDAP: slapd.conf, an mdb database loaded with slapadd, StartTLS offered.
mkdir -p ldap/db
( cd ldap && cert tls fhq-ldap.farhand.test )
cat > ldap/slapd.conf <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $WORK/ldap/slapd.pid
TLSCertificateFile $WORK/ldap/tls.crt
TLSCertificateKeyFile $WORK/ldap/tls.key
database mdb
suffix "dc=farhand,dc=test"
rootdn "cn=admin,dc=farhand,dc=test"
rootpw $(slappasswd -s admin-pw)
directory $WORK/ldap/db
maxsize 16777216
index objectClass,uid,memberUid eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
CONF
{
  printf 'dn: dc=farhand,dc=test\nobjectClass: dcObject\nobjectClass: organization\no: farhand test\ndc: farhand\n\n'
  printf 'dn: ou=people,dc=farhand,dc=test\nobjectClass: organizationalUnit\nou: people\n\n'
  printf 'dn: ou=groups,dc=farhand,dc=test\nobjectClass: organizationalUnit\nou: groups\n\n'
  uidn=2001
  for u in alice bob carol dave erin; do
    printf 'dn: uid=%s,ou=people,dc=farhand,dc=test\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n' $u
    printf 'uid: %s\ncn: %s Example\nsn: Example\nmail: %s@farhand.test\ntelephoneNumber: +1 555 0100\n' $u $u $u
    printf 'uidNumber: %s\ngidNumber: 2000\nhomeDirectory: /home/%s\nloginShell: /bin/bash\n' $uidn $u
    printf 'userPassword: %s\n\n' "$(slappasswd -s $u-pw)"
    uidn=$((uidn + 1))
  done
  printf 'dn: cn=staff,ou=groups,dc=farhand,dc=test\nobjectClass: posixGroup\ncn: staff\ngidNumber: 2000\n'
  printf 'memberUid: alice\nmemberUid: bob\nmemberUid: carol\n\n'
} > ldap/base.ldif
slapadd -f ldap/slapd.conf -l ldap/base.ldif > ldap-slapadd.log 2>&1
spawn $INET slapd slapd -d 256 -h "ldap://$LDAP/" -f "$WORK/ldap/slapd.conf"

# MIT Kerberos: realm FARHAND.TEST, a user that must pre-authenticate, two services.
mkdir -p krb5
cat > krb5/krb5.conf <<CONF
[libdefaults]
  default_realm = FARHAND.TEST
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
[realms]
  FARHAND.TEST = {
    kdc = $KDC
    admin_server = $KDC
  }
CONF
cat > krb5/kdc.conf <<CONF
[kdcdefaults]
  kdc_listen = $KDC:88
  kdc_tcp_listen = $KDC:88
[realms]
  FARHAND.TEST = {
    database_name = $WORK/krb5/principal
    key_stash_file = $WORK/krb5/stash
    acl_file = $WORK/krb5/kadm5.acl
    max_life = 10h
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:$WORK/krb5/kdc.log
CONF
: > krb5/kadm5.acl
export KRB5_CONFIG=$WORK/krb5/krb5.conf KRB5_KDC_PROFILE=$WORK/krb5/kdc.conf
export KRB5CCNAME=FILE:$WORK/krb5/ccache
kdb5_util -r FARHAND.TEST create -s -P master-pw > krb5-create.log 2>&1
for q in "addprinc +requires_preauth -pw alice-pw alice" "addprinc -randkey host/files.farhand.test" \
         "addprinc -randkey HTTP/intranet.farhand.test"; do
  kadmin.local -r FARHAND.TEST -q "$q" >> krb5-create.log 2>&1
done
spawn $INET krb5kdc krb5kdc -n

# Samba: a standalone server with one share; alice (mapped to root, whose SMB password is in
# a passdb of our own) may read and write it.
mkdir -p smb/share smb/private smb/lock smb/state smb/cache smb/run smb/ncalrpc smb/client
cat > smb/smb.conf <<CONF
[global]
  server role = standalone server
  workgroup = FARHAND
  netbios name = FILES
  interfaces = $SMB
  bind interfaces only = yes
  smb ports = 445
  disable netbios = yes
  server min protocol = SMB2_10
  passdb backend = tdbsam:$WORK/smb/private/passdb.tdb
  username map = $WORK/smb/users.map
  private dir = $WORK/smb/private
  lock directory = $WORK/smb/lock
  state directory = $WORK/smb/state
  cache directory = $WORK/smb/cache
  pid directory = $WORK/smb/run
  ncalrpc dir = $WORK/smb/ncalrpc
  log file = $WORK/smb/log.%m
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
[projects]
  path = $WORK/smb/share
  read only = no
  valid users = root
CONF
echo "root = alice" > smb/users.map
cat > smb/client.conf <<CONF
[global]
  workgroup = FARHAND
  disable netbios = yes
  client min protocol = SMB2_10
  lock directory = $WORK/smb/client
  state directory = $WORK/smb/client
  cache directory = $WORK/smb/client
  private dir = $WORK/smb/client
CONF
printf 'alice-pw\nalice-pw\n' | smbpasswd -c "$WORK/smb/smb.conf" -s -a root > smb-passwd.log 2>&1
openssl rand 90000 > smb/share/q3-report.pdf
printf 'Meeting notes\n- budget approved\n- move the file server in March\n' > smb/share/notes.txt
openssl rand 30000 > smb/upload.xlsx
spawn $INET smbd smbd --foreground --no-process-group --debug-stdout --configfile="$WORK/smb/smb.conf"

# chrony: an NTP server on its own local clock (it never steers the machine's clock: -x).
mkdir -p chrony
cat > chrony/server.conf <<CONF
local stratum 8
allow 10.32.0.0/24
bindaddress $NTP
cmdport 0
bindcmdaddress /
pidfile $WORK/chrony/server.pid
CONF
cat > chrony/client.conf <<CONF
server $NTP iburst
cmdport 0
bindcmdaddress /
pidfile $WORK/chrony/client.pid
CONF
spawn $INET chronyd chronyd -d -x -u root -f "$WORK/chrony/server.conf"

# net-snmp: v1/v2c community "public" for the laptop's network, a v3 user with SHA + AES.
mkdir -p snmp/agent snmp/client
cat > snmp/snmpd.conf <<CONF
agentAddress udp:$SNMP:161
rocommunity public 10.32.0.0/24
createUser fhq-monitor SHA "auth-pass-1234" AES "priv-pass-1234"
rouser fhq-monitor authpriv
sysDescr core-sw1 test agent
sysLocation Server room 2, rack 4
sysContact ops@farhand.test
sysName core-sw1
CONF
spawn $INET snmpd env SNMP_PERSISTENT_DIR="$WORK/snmp/agent" \
  snmpd -f -Lo -C -c "$WORK/snmp/snmpd.conf" -p "$WORK/snmp/snmpd.pid"

# mosquitto: one listener, password logins.
mkdir -p mqtt
mosquitto_passwd -b -c mqtt/passwd sensor sensor-pw
chown mosquitto: mqtt/passwd 2>/dev/null || true
cat > mqtt/mosquitto.conf <<CONF
listener 1883 $MQTT
allow_anonymous false
password_file $WORK/mqtt/passwd
persistence false
log_dest stdout
CONF
spawn $INET mosquitto mosquitto -c "$WORK/mqtt/mosquitto.conf"

# nghttpd: a small site over HTTP/2 with TLS (:443) and cleartext h2c (:80).
mkdir -p www/htdocs
( cd www && cert tls intranet.farhand.test )
cat > www/htdocs/index.html <<'HTML'
<!DOCTYPE html>
<html><head><title>Intranet</title>
<link rel="stylesheet" href="/style.css">
<script src="/app.js"></script></head>
<body><h1>Intranet</h1><img src="/logo.png" alt="logo"><p>Welcome.</p></body></html>
HTML
for i in $(seq 1 200); do
  printf '.c%d { margin: %dpx; color: #%06x; }\n' "$i" "$i" "$((i * 4099))"
done > www/htdocs/style.css
for i in $(seq 1 150); do printf 'function f%d(x) { return x * %d + 1; }\n' "$i" "$i"; done \
  > www/htdocs/app.js
openssl rand 20000 > www/htdocs/logo.png
openssl rand -hex 3000 > www/htdocs/data.json
spawn $INET nghttpd-tls nghttpd --address=$WEB --htdocs="$WORK/www/htdocs" 443 \
  "$WORK/www/tls.key" "$WORK/www/tls.crt"
spawn $INET nghttpd-h2c nghttpd --address=$WEB --htdocs="$WORK/www/htdocs" --no-tls 80
spawn $INET ws   $PY "$HELP/ws_app.py"   server $WS 8080
spawn $INET grpc $PY "$HELP/grpc_app.py" server $GRPC 50051

# baresip: the answering phone (its echo module answers every call and sends the audio back);
# the calling phone's configuration (a 440 Hz tone as its microphone) is used during the capture.
mkdir -p sip/callee sip/caller
sip_config() {  # sip_config DIR INTERFACE ADDRESS SOURCE APP
  cat > "$1/config" <<CONF
poll_method epoll
net_interface $2
sip_listen $3:5060
audio_player aubridge,speaker
audio_source $4
audio_alert aubridge,speaker
rtp_ports 10000-10019
module_path /usr/lib/baresip/modules
module g711.so
module aubridge.so
module ausine.so
module_app account.so
module_app $5
CONF
}
sip_config sip/callee fhq-sip $SIP aubridge,speaker echo.so
echo "<sip:echo@$SIP>;regint=0;audio_codecs=PCMU" > sip/callee/accounts
sip_config sip/caller $EP_IF $LAPTOP ausine,440 menu.so
printf "ausrc_srate 48000\nausrc_channels 2\n" >> sip/caller/config   # what ausine makes; resampled
echo "<sip:laptop@$LAPTOP>;regint=0;audio_codecs=PCMU" > sip/caller/accounts
spawn $INET baresip-callee baresip -f "$WORK/sip/callee"

# OpenSSH: the lab's own sshd set-up (tests/lab/sshd.sh: keys of this run, key logins only),
# started below once the files it serves are in place.
mkdir -p ssh/src ssh/dst
for i in $(seq 1 12); do openssl rand $((i * 1000 + 4000)) > "ssh/src/part-$i.bin"; done
openssl rand 200000 > ssh/backup.tar.gz
openssl rand 80000 > ssh/dst/server.log
git init -q --bare ssh/repo.git
git init -q ssh/work
for i in $(seq 1 12); do
  for j in $(seq 1 40); do
    printf 'line %d of revision %d: configuration value %d\n' "$j" "$i" "$((i * j))"
  done > ssh/work/settings.conf
  git -C ssh/work add settings.conf
  git -C ssh/work -c user.name=ops -c user.email=ops@farhand.test commit -q -m "revision $i"
done
git -C ssh/work push -q "$WORK/ssh/repo.git" HEAD:refs/heads/main
git -C ssh/repo.git symbolic-ref HEAD refs/heads/main
"$REPO/tests/lab/sshd.sh" start "$WORK/ssh" $INET 22 > /dev/null

wait_for 20 "postgres"  listening $INET tcp $PG 5432
wait_for 30 "mariadbd"  listening $INET tcp $MARIA 3306
wait_for 10 "redis"     listening $INET tcp $REDIS 6379
wait_for 10 "slapd"     listening $INET tcp $LDAP 389
wait_for 10 "krb5kdc"   listening $INET udp $KDC 88
wait_for 20 "smbd"      listening $INET tcp $SMB 445
wait_for 10 "chronyd"   listening $INET udp $NTP 123
wait_for 10 "snmpd"     listening $INET udp $SNMP 161
wait_for 10 "mosquitto" listening $INET tcp $MQTT 1883
wait_for 10 "nghttpd"   listening $INET tcp $WEB 443
wait_for 10 "nghttpd"   listening $INET tcp $WEB 80
wait_for 10 "ws app"    listening $INET tcp $WS 8080
wait_for 10 "grpc app"  listening $INET tcp $GRPC 50051
wait_for 10 "baresip"   listening $INET udp $SIP 5060

runuser -u postgres -- psql -X -q -h "$WORK/pg" -U postgres \
  -c "CREATE ROLE app LOGIN PASSWORD 'app-pw'" -c "CREATE DATABASE inventory OWNER app" > pg-setup.log
mariadb --no-defaults -S "$WORK/mysql/sock" -u root -e "CREATE DATABASE inventory;
  CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'; GRANT ALL ON inventory.* TO 'app'@'%';" > mariadb-setup.log

# ------------------------------------------------------------------ captures
databases() {
  local sslmode sql
  sql="CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text, qty int);
INSERT INTO items SELECT g, 'item-' || g, g % 13 FROM generate_series(1, 40) g ON CONFLICT DO NOTHING;
SELECT count(*), sum(qty) FROM items;
BEGIN; UPDATE items SET qty = qty + 1 WHERE id < 5; COMMIT;
SELECT id, name, qty FROM items WHERE qty > 10 ORDER BY id LIMIT 5;"
  for sslmode in disable require; do
    say "  psql sslmode=$sslmode"
    inep env PGPASSWORD=app-pw PGCONNECT_TIMEOUT=5 timeout 20 psql -X -q \
      "host=$PG port=5432 user=app dbname=inventory sslmode=$sslmode" -c "$sql" > "$WORK/psql-$sslmode.out" 2>&1
    sleep 0.5
  done
  sql="CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, customer varchar(40), total decimal(9,2));
INSERT IGNORE INTO orders VALUES (1,'acme',120.50),(2,'globex',99.00),(3,'initech',310.25);
SELECT customer, total FROM orders ORDER BY total DESC;
UPDATE orders SET total = total * 1.1 WHERE id = 2;
SHOW STATUS LIKE 'Ssl_cipher';"
  for tls in --skip-ssl --ssl; do
    say "  mariadb $tls"
    inep timeout 20 mariadb --no-defaults --connect-timeout=5 -h $MARIA -P 3306 -u app -papp-pw \
      $tls inventory -e "$sql" > "$WORK/mariadb$tls.out"
    sleep 0.5
  done
  say "  redis-cli commands, SUBSCRIBE/PUBLISH, replica sync"
  local rc="redis-cli -h $REDIS -p 6379 -a redis-pw --no-auth-warning"
  # shellcheck disable=SC2086
  printf '%s\n' "SET session:42 alice EX 3600" "GET session:42" "INCR counter:logins" \
    "HSET user:alice name Alice team ops" "HGETALL user:alice" "LPUSH queue:jobs job-1 job-2 job-3" \
    "LRANGE queue:jobs 0 -1" "EXPIRE queue:jobs 600" "INFO server" | inep timeout 10 $rc > "$WORK/redis-cli.out"
  # shellcheck disable=SC2086
  inep timeout 4 $rc SUBSCRIBE alerts:deploy > "$WORK/redis-sub.out" 2>&1 &
  local sub=$!
  sleep 0.8
  for m in "build 311 started" "build 311 passed" "deploy 311 to staging"; do
    # shellcheck disable=SC2086
    inep timeout 5 $rc PUBLISH alerts:deploy "$m" >> "$WORK/redis-cli.out"; sleep 0.3
  done
  wait $sub 2>/dev/null || true
  spawn $EP redis-replica redis-server --bind $LAPTOP --port 6380 --protected-mode no --save '' --appendonly no \
    --dir "$WORK/redis-replica" --replicaof $REDIS 6379 --masterauth redis-pw
  local rep=$! i
  for i in $(seq 50); do
    inep redis-cli -h $LAPTOP -p 6380 INFO replication 2>/dev/null | grep -q 'master_link_status:up' && break
    sleep 0.1
  done
  for i in 1 2 3; do
    # shellcheck disable=SC2086
    inep timeout 5 $rc SET "config:rev" "$i" >> "$WORK/redis-cli.out"; sleep 0.5
  done
  sleep 1.5
  inep redis-cli -h $LAPTOP -p 6380 GET config:rev >> "$WORK/redis-cli.out"
  kill -TERM $rep; wait $rep 2>/dev/null || true
}

directory() {
  local base="dc=farhand,dc=test" alice="uid=alice,ou=people,dc=farhand,dc=test"
  say "  ldapwhoami, ldapsearch, ldapmodify, StartTLS"
  {
    inep timeout 10 ldapwhoami -x -H ldap://$LDAP -D "$alice" -w alice-pw
    inep timeout 10 ldapsearch -x -LLL -H ldap://$LDAP -D "$alice" -w alice-pw -b "ou=people,$base" \
      "(objectClass=inetOrgPerson)" uid cn mail
    inep timeout 10 ldapsearch -x -LLL -H ldap://$LDAP -b "ou=groups,$base" "(memberUid=alice)" cn
    printf 'dn: uid=bob,ou=people,%s\nchangetype: modify\nreplace: telephoneNumber\ntelephoneNumber: +1 555 0142\n' \
      "$base" | inep timeout 10 ldapmodify -x -H ldap://$LDAP -D "cn=admin,$base" -w admin-pw
    inep env LDAPTLS_REQCERT=never timeout 10 ldapsearch -x -ZZ -LLL -H ldap://$LDAP -D "$alice" -w alice-pw \
      -b "$base" "(uid=bob)" telephoneNumber
  } > "$WORK/ldap.out"
  sleep 0.5
  say "  kinit (pre-authentication), kvno, kdestroy"
  echo alice-pw | inep timeout 10 kinit alice > "$WORK/krb5.out" 2>&1
  inep timeout 10 kvno host/files.farhand.test HTTP/intranet.farhand.test >> "$WORK/krb5.out" 2>&1
  inep klist >> "$WORK/krb5.out" 2>&1
  kdestroy
}

smb() {
  local c="smbclient -s $WORK/smb/client.conf --use-kerberos=off -U alice%alice-pw -m SMB3"
  say "  smbclient -L, ls/get/put"
  # shellcheck disable=SC2086
  inep timeout 20 $c -L //$SMB > "$WORK/smbclient.out" 2>&1
  sleep 0.5
  local cmds="ls; get q3-report.pdf $WORK/smb/q3-report.pdf; get notes.txt $WORK/smb/notes.txt"
  cmds="$cmds; put $WORK/smb/upload.xlsx budget.xlsx; ls"
  # shellcheck disable=SC2086
  inep timeout 20 $c //$SMB/projects -c "$cmds" >> "$WORK/smbclient.out" 2>&1
}

infra() {
  say "  chronyd -Q (NTP client)"
  inep timeout 20 chronyd -Q -t 15 -u root -f "$WORK/chrony/client.conf" > "$WORK/chrony-client.out" 2>&1
  sleep 0.5
  say "  snmpget v1, snmpwalk v2c, snmpbulkwalk v2c, snmpwalk v3 authPriv"
  local e="env SNMP_PERSISTENT_DIR=$WORK/snmp/client MIBS="
  # shellcheck disable=SC2086
  {
    inep $e timeout 10 snmpget -v1 -c public -On $SNMP 1.3.6.1.2.1.1.1.0 1.3.6.1.2.1.1.5.0
    inep $e timeout 10 snmpwalk -v2c -c public -On $SNMP 1.3.6.1.2.1.1
    inep $e timeout 10 snmpbulkwalk -v2c -c public -On -Cr10 $SNMP 1.3.6.1.2.1.2.2.1
    inep $e timeout 10 snmpwalk -v3 -l authPriv -u fhq-monitor -a SHA -A auth-pass-1234 -x AES \
      -X priv-pass-1234 -On $SNMP 1.3.6.1.2.1.1
  } > "$WORK/snmp.out" 2>&1
  sleep 0.5
  say "  mosquitto_sub / mosquitto_pub (QoS 0, 1, 2, retained)"
  local a="-h $MQTT -p 1883 -u sensor -P sensor-pw"
  # shellcheck disable=SC2086
  inep timeout 10 mosquitto_sub $a -i fhq-dashboard -t 'plant/#' -v -C 5 > "$WORK/mqtt-sub.out" 2>&1 &
  local sub=$!
  sleep 0.8
  # shellcheck disable=SC2086
  {
    inep mosquitto_pub $a -i fhq-line1 -t plant/line1/temp -m 21.5 -q 0
    sleep 0.3; inep mosquitto_pub $a -i fhq-line1 -t plant/line1/temp -m 21.7 -q 1
    sleep 0.3; inep mosquitto_pub $a -i fhq-line2 -t plant/line2/pressure -m 1.013 -q 2
    sleep 0.3; inep mosquitto_pub $a -i fhq-line2 -t plant/line2/state -m running -q 1 -r
    sleep 0.3; inep mosquitto_pub $a -i fhq-line1 -t plant/line1/alarm -m '{"code":0}' -q 1
  } > "$WORK/mqtt-pub.out" 2>&1
  wait $sub 2>/dev/null || true
}

web() {
  say "  nghttp over TLS (with assets), h2c (prior knowledge), gRPC, WebSocket"
  inep timeout 15 nghttp -nas "https://$WEB/index.html" "https://$WEB/data.json" > "$WORK/nghttp-tls.out" 2>&1
  sleep 0.5
  inep timeout 15 nghttp -ns "http://$WEB/index.html" "http://$WEB/style.css" > "$WORK/nghttp-h2c.out" 2>&1
  sleep 0.5
  inep timeout 20 $PY "$HELP/grpc_app.py" client $GRPC 50051 > "$WORK/grpc-client.out" 2>&1
  sleep 0.5
  inep timeout 20 $PY "$HELP/ws_app.py" client $WS 8080 > "$WORK/ws-client.out" 2>&1
}

voip() {
  say "  baresip: dial sip:echo@$SIP, talk about 6 s, hang up"
  inep timeout 20 baresip -f "$WORK/sip/caller" -e "/dial sip:echo@$SIP" -t 8 > "$WORK/baresip-caller.log" 2>&1 \
    < /dev/null || true
}

ssh_machine() {
  local o
  o=$("$REPO/tests/lab/sshd.sh" opts "$WORK/ssh")
  say "  rsync -e ssh (push a directory)"
  inep timeout 30 rsync -a -e "ssh $o" "$WORK/ssh/src/" "root@$SSH:$WORK/ssh/dst/src/" > "$WORK/rsync.out" 2>&1
  sleep 1
  say "  git clone over ssh"
  inep env GIT_SSH_COMMAND="ssh $o" timeout 30 git clone -q "ssh://root@$SSH$WORK/ssh/repo.git" \
    "$WORK/ssh/clone" > "$WORK/git.out" 2>&1
  sleep 1
  say "  scp upload (SFTP protocol), scp -O download (legacy protocol)"
  # shellcheck disable=SC2086
  inep timeout 30 scp -q $o "$WORK/ssh/backup.tar.gz" "root@$SSH:$WORK/ssh/dst/backup.tar.gz" > "$WORK/scp.out" 2>&1
  sleep 1
  # shellcheck disable=SC2086
  inep timeout 30 scp -q -O $o "root@$SSH:$WORK/ssh/dst/server.log" "$WORK/ssh/server.log" >> "$WORK/scp.out" 2>&1
}

record own-neg-databases databases
record own-neg-directory directory
record own-neg-smb smb
record own-neg-infra infra
record own-neg-web web
record own-neg-voip voip
record own-ssh-machine ssh_machine
say "done"
