// SPDX-License-Identifier: GPL-2.0-only
/*
 * A "daemon" that accepts TCP connections and never answers, for the fleet tests (issue 16:
 * every libvirt call has a deadline). Listens on 127.0.0.1, an ephemeral port, prints the port
 * on stdout, then accepts and holds every connection, reading nothing, until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 64) ||
	    getsockname(s, (struct sockaddr *)&a, &len)) {
		perror("fleet-hang");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;)
		if (accept(s, NULL, NULL) < 0)
			usleep(10000);
}
