# The nginx baseline's configuration, shared by bench/run.sh and bench/syscalls-under-load.sh so
# that both measure the same nginx: one worker, keep-alive on both sides (64 idle upstream
# connections), a reverse proxy to the decision service, and with a static port also the recorded
# answer served from WORK_DIR/order-sign-response.json (the cost of HTTP alone).
# Sourced; nginx_conf WORK_DIR DECISION_PORT PROXY_PORT [STATIC_PORT] writes WORK_DIR/nginx/nginx.conf.
nginx_conf() {
    local work=$1 decision_port=$2 proxy_port=$3 static_port=${4:-} static=""
    if [ -n "$static_port" ]; then
        static="server {
        listen 127.0.0.1:$static_port;
        location / { default_type application/json; root $work; try_files /order-sign-response.json =404; }
    }"
    fi
    mkdir -p "$work/nginx"
    cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_buffer_size 1m;
    client_max_body_size 1m;
    upstream decision { server 127.0.0.1:$decision_port; keepalive 64; }
    $static
    server {
        listen 127.0.0.1:$proxy_port;
        location / {
            proxy_pass http://decision;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
}
