/*
 * wsztune-lws: a libwebsockets server that sends a corpus to every WebSocket client, with
 * libwebsockets' own permessage-deflate extension, so that its frames can be compared with
 * wsztune's model.
 *
 * Usage: wsztune-lws MESSAGES LEVEL MEM_LEVEL WINDOW TAKEOVER TX_BUF_BITS
 *   MESSAGES: per message one byte (1 text, 0 binary), a 4-byte big-endian length, the bytes.
 *   LEVEL, MEM_LEVEL, WINDOW: set on each connection with lws_set_extension_option() before
 *   the first write (-1: leave the extension's default). TAKEOVER 0 sets the option that makes
 *   lws reset its deflater after each message. TX_BUF_BITS: the output buffer (2^n bytes).
 *
 * It listens on 127.0.0.1 on a port the system picks, prints "port N" on stdout, and sends
 * every message to each client that connects, one lws_write() per writable callback, then
 * closes that connection. It stops by itself after 120 seconds, or when stdin closes.
 */

#include <libwebsockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIFETIME_SECONDS 120

struct message {
	int is_text;
	size_t length;
	unsigned char *buffer; /* LWS_PRE bytes of room, then the payload */
};

static struct message *messages;
static size_t message_count;
static const char *option_level, *option_mem_level, *option_window;
static int takeover = 1;
static char option_tx_buf[8];
static volatile int stopping;

struct session {
	size_t next;
};

static int load(const char *path)
{
	FILE *in = fopen(path, "rb");
	size_t capacity = 0;
	unsigned char head[5];

	if (!in)
		return -1;
	while (fread(head, 1, 5, in) == 5) {
		size_t length = ((size_t)head[1] << 24) | ((size_t)head[2] << 16) |
				((size_t)head[3] << 8) | head[4];
		if (message_count == capacity) {
			capacity = capacity ? capacity * 2 : 256;
			messages = realloc(messages, capacity * sizeof(*messages));
			if (!messages)
				return -1;
		}
		messages[message_count].is_text = head[0] == 1;
		messages[message_count].length = length;
		messages[message_count].buffer = malloc(LWS_PRE + length + 1);
		if (!messages[message_count].buffer ||
		    fread(messages[message_count].buffer + LWS_PRE, 1, length, in) != length)
			return -1;
		message_count++;
	}
	fclose(in);
	return 0;
}

static void set_option(struct lws *wsi, const char *name, const char *value)
{
	if (value && strcmp(value, "-1"))
		lws_set_extension_option(wsi, "permessage-deflate", name, value);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct session *session = user;
	struct message *message;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		session->next = 0;
		set_option(wsi, "compression_level", option_level);
		set_option(wsi, "mem_level", option_mem_level);
		set_option(wsi, "server_max_window_bits", option_window);
		set_option(wsi, "tx_buf_size", option_tx_buf);
		if (!takeover)
			lws_set_extension_option(wsi, "permessage-deflate",
						 "client_no_context_takeover", "1");
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (session->next == message_count) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		message = &messages[session->next++];
		if (lws_write(wsi, message->buffer + LWS_PRE, message->length,
			      message->is_text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY) <
		    (int)message->length)
			return -1;
		lws_callback_on_writable(wsi);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "wsztune", callback, sizeof(struct session), 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const struct lws_extension extensions[] = {
	{ "permessage-deflate", lws_extension_callback_pm_deflate,
	  "permessage-deflate; client_max_window_bits" },
	{ NULL, NULL, NULL }
};

static void on_signal(int signal_number)
{
	(void)signal_number;
	stopping = 1;
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *context;
	struct lws_vhost *vhost;
	time_t deadline = time(NULL) + LIFETIME_SECONDS;
	struct pollfd input = { 0, POLLIN, 0 };

	if (argc != 7) {
		fprintf(stderr, "usage: %s MESSAGES LEVEL MEM_LEVEL WINDOW TAKEOVER TX_BUF_BITS\n",
			argv[0]);
		return 2;
	}
	if (load(argv[1])) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 2;
	}
	option_level = argv[2];
	option_mem_level = argv[3];
	option_window = argv[4];
	takeover = atoi(argv[5]);
	snprintf(option_tx_buf, sizeof(option_tx_buf), "%d", atoi(argv[6]));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = 0;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.extensions = extensions;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	context = lws_create_context(&info);
	if (!context) {
		fprintf(stderr, "lws_create_context failed\n");
		return 1;
	}
	vhost = lws_get_vhost_by_name(context, "default");
	printf("port %d\n", vhost ? lws_get_vhost_listen_port(vhost) : -1);
	fflush(stdout);

	while (!stopping && time(NULL) < deadline) {
		if (lws_service(context, 0) < 0)
			break;
		/* stdin closed (the parent went away): stop */
		if (poll(&input, 1, 0) > 0 && (input.revents & (POLLHUP | POLLIN))) {
			char byte;
			if (read(0, &byte, 1) <= 0)
				break;
		}
	}
	lws_context_destroy(context);
	return 0;
}
