/*
 * rig's virtual card reader: a pcsc-lite IFD handler driver whose card is a TCP client.
 *
 * Why it exists: a driver without an event source is polled by pcscd every 400 ms
 * (PCSCLITE_STATUS_POLL_RATE), so every card move costs a poll or two. This driver answers
 * TAG_IFD_POLLING_THREAD_WITH_TIMEOUT with `wait_for_change`, which pcscd's per-reader event
 * thread calls between two IFDHICCPresence calls: it returns as soon as a card connects or
 * hangs up, so pcscd sees an insertion or a removal within milliseconds.
 *
 * One reader per reader.conf.d entry, one slot each. The entry's CHANNELID (or the number
 * after the last ':' of its DEVICENAME) is the TCP port the reader listens on, on loopback.
 * A connection accepted on it is a card inserted; its end (EOF or error) is the card removed.
 * The same .so serves every reader: each reader's state lives in `readers[]`, keyed by the
 * reader part of the Lun (Lun >> 16), so no copies of the library are needed.
 *
 * Wire protocol to the card (the one rig's VpcdLink serves): every message is a 2-byte
 * big-endian length followed by that many bytes. A 1-byte message is a control code
 * (0 power off, 1 power on, 2 reset, 4 get ATR: the card answers the last with its ATR);
 * any longer message is a C-APDU, answered by the R-APDU.
 *
 * Threads: pcscd calls IFDHICCPresence and wait_for_change from the reader's event thread,
 * and power/transmit from client threads. `io` serialises every exchange with the card and
 * every change of a reader's state. Only the event thread closes a card socket (in
 * `refresh`; IFDHCloseChannel runs after pcscd has stopped that thread); other threads, on
 * a failed exchange, just shut it down, which wakes the event thread's poll(), so no thread
 * ever polls a descriptor another thread has closed.
 *
 * Written for rig from the IFD handler API (ifdhandler.h) and the wire protocol above.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/ifdhandler.h>
#include <PCSC/reader.h>  /* SCARD_ATTR_ATR_STRING */

#define MAX_READERS 16       /* pcscd's own limit (PCSCLITE_MAX_READERS_CONTEXTS) */
#define MAX_MESSAGE 65535    /* the 2-byte length's limit */

#define CTRL_POWER_OFF 0x00
#define CTRL_POWER_ON 0x01
#define CTRL_RESET 0x02
#define CTRL_GET_ATR 0x04

struct reader {
	int used;
	DWORD key;               /* Lun >> 16: pcscd's reader index */
	int listen_fd;           /* the reader's port: a connection here is a card inserted */
	int card_fd;             /* the card's connection, -1 when the slot is empty */
	int card_dead;           /* an exchange failed: the card is gone, refresh() closes it */
	int wake[2];             /* a pipe: written to end wait_for_change early */
	int reported_present;    /* what IFDHICCPresence last told pcscd */
	int removal_unseen;      /* the card left while pcscd still believed it present */
	int has_event_thread;    /* wait_for_change has been called: event_thread is known */
	pthread_t event_thread;  /* pcscd's event thread for this reader */
	pthread_mutex_t io;
};

static struct reader readers[MAX_READERS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct reader *find_reader(DWORD Lun)
{
	DWORD key = Lun >> 16;
	struct reader *found = NULL;

	pthread_mutex_lock(&table_lock);
	for (int i = 0; i < MAX_READERS; i++)
		if (readers[i].used && readers[i].key == key) {
			found = &readers[i];
			break;
		}
	pthread_mutex_unlock(&table_lock);
	return found;
}

static void wake_waiter(struct reader *r)
{
	char b = 1;
	ssize_t n = write(r->wake[1], &b, 1); /* a full pipe already holds a wake-up */
	(void)n;
}

/* Latency on loopback: send each message in one segment, acknowledge each one at once.
 * A card that stays connected but never answers is mute after CARD_TIMEOUT_S: the exchange
 * fails as if it had been pulled, instead of holding the station (and the reader) forever. */
#define CARD_TIMEOUT_S 30
static void tune_socket(int fd)
{
	struct timeval mute = { .tv_sec = CARD_TIMEOUT_S, .tv_usec = 0 };
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &mute, sizeof mute);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &mute, sizeof mute);
}

/* Close the card's socket (caller holds io). The removal is remembered if pcscd had seen
 * the card, so a card put back before pcscd looked still shows pcscd one empty slot. */
static void drop_card(struct reader *r)
{
	if (r->card_fd < 0)
		return;
	close(r->card_fd);
	r->card_fd = -1;
	r->card_dead = 0;
	if (r->reported_present)
		r->removal_unseen = 1;
}

/* Bring the slot's state up to date without blocking (caller holds io): end a card that
 * hung up or failed, and accept a card waiting to be inserted. Called by the event thread. */
static void refresh(struct reader *r)
{
	if (r->card_fd >= 0) {
		char probe[256];
		ssize_t n;
		int unasked = 0;

		if (r->card_dead)
			drop_card(r);
		/* No exchange is running (we hold io): readable now means EOF, an error, or
		 * bytes the card sent unasked, which are dropped (a card that never stops
		 * sending them is out of step with its reader: it is treated as removed). */
		while (r->card_fd >= 0) {
			n = recv(r->card_fd, probe, sizeof probe, MSG_DONTWAIT);
			if (n > 0 && ++unasked < 64)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				break;
			drop_card(r);
		}
	}
	if (r->card_fd < 0) {
		int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0) {
			tune_socket(fd);
			r->card_fd = fd;
		}
	}
}

/* The polling-thread function pcscd calls between two presence checks: block until the
 * card may have come or gone, or `timeout_ms` passes (pcscd then checks anyway). */
static RESPONSECODE wait_for_change(DWORD Lun, int timeout_ms)
{
	struct reader *r = find_reader(Lun);
	struct timespec start, now;

	if (r == NULL)
		return IFD_COMMUNICATION_ERROR;
	pthread_mutex_lock(&r->io);
	r->event_thread = pthread_self();
	r->has_event_thread = 1;
	pthread_mutex_unlock(&r->io);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd fds[2];
		int changed, left, rc;

		pthread_mutex_lock(&r->io);
		refresh(r);
		changed = r->removal_unseen || (r->card_fd >= 0) != r->reported_present;
		fds[0].fd = r->card_fd >= 0 ? r->card_fd : r->listen_fd;
		pthread_mutex_unlock(&r->io);
		if (changed)
			return IFD_SUCCESS;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - (int)((now.tv_sec - start.tv_sec) * 1000
					  + (now.tv_nsec - start.tv_nsec) / 1000000);
		if (timeout_ms >= 0 && left <= 0)
			return IFD_SUCCESS;
		fds[0].events = POLLIN;
		fds[1].fd = r->wake[0];
		fds[1].events = POLLIN;
		rc = poll(fds, 2, timeout_ms < 0 ? -1 : left);
		if (rc < 0 && errno != EINTR)
			return IFD_COMMUNICATION_ERROR;
		if (rc > 0 && (fds[1].revents & POLLIN)) {
			char drain[64];

			while (read(r->wake[0], drain, sizeof drain) > 0)
				;
			return IFD_SUCCESS; /* asked to stop, or a thread saw the card fail */
		}
		/* Readable card or listening socket: loop, refresh() takes it in. A reply the
		 * client thread is reading makes us wait for io until that exchange ends. */
	}
}

/* pcscd asks the thread to stop before it removes the reader. */
static RESPONSECODE stop_waiting(DWORD Lun)
{
	struct reader *r = find_reader(Lun);

	if (r != NULL)
		wake_waiter(r);
	return IFD_SUCCESS;
}

/* --- the card's wire protocol (caller holds io) ------------------------------------- */

/* One message in one sendmsg: with TCP_NODELAY the length and the payload leave in one
 * segment (sent separately, the payload would wait for the card to acknowledge the length). */
static int send_message(int fd, const unsigned char *data, size_t len)
{
	unsigned char head[2];
	struct iovec iov[2];
	struct msghdr msg;
	size_t total = len + 2;

	if (len > MAX_MESSAGE)
		return -1;
	head[0] = (unsigned char)(len >> 8);
	head[1] = (unsigned char)len;
	iov[0].iov_base = head;
	iov[0].iov_len = 2;
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	while (total > 0) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		total -= (size_t)n;
		/* a short send (a full socket buffer): move the vector past what went out */
		while (n > 0 && msg.msg_iovlen > 0) {
			size_t step = (size_t)n < msg.msg_iov->iov_len ? (size_t)n : msg.msg_iov->iov_len;

			msg.msg_iov->iov_base = (unsigned char *)msg.msg_iov->iov_base + step;
			msg.msg_iov->iov_len -= step;
			n -= (ssize_t)step;
			if (msg.msg_iov->iov_len == 0) {
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
		}
	}
	return 0;
}

static int recv_all(int fd, unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Receive one message into buf (capacity *len); *len becomes its length. A message longer
 * than buf is read out and refused, keeping the stream in step. */
static int recv_message(int fd, unsigned char *buf, DWORD *len)
{
	unsigned char head[2];
	size_t size;
	int one = 1;

	if (recv_all(fd, head, 2) < 0)
		return -1;
	size = ((size_t)head[0] << 8) | head[1];
	if (size > *len) {
		unsigned char sink[256];

		while (size > 0) {
			size_t chunk = size < sizeof sink ? size : sizeof sink;

			if (recv_all(fd, sink, chunk) < 0)
				return -1;
			size -= chunk;
		}
		return -2;
	}
	if (recv_all(fd, buf, size) < 0)
		return -1;
	/* Linux falls back to delayed ACKs in an exchange of requests and replies: without
	 * this the card's next reply waits ~40 ms for our acknowledgement. */
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
	*len = (DWORD)size;
	return 0;
}

/* A failed exchange means the card is gone: shut the socket down (the event thread's poll
 * wakes and closes it) and tell the event thread to look now. */
static RESPONSECODE card_failed(struct reader *r)
{
	if (r->card_fd >= 0) {
		shutdown(r->card_fd, SHUT_RDWR);
		r->card_dead = 1;
	}
	wake_waiter(r);
	return IFD_ICC_NOT_PRESENT;
}

/* A card to talk to: not one that failed, and not one that came in after a removal pcscd
 * has not yet seen (the old session's commands must not reach the new card). */
static int card_usable(struct reader *r)
{
	return r->card_fd >= 0 && !r->card_dead && !r->removal_unseen;
}

/* --- the IFD handler API ------------------------------------------------------------ */

static RESPONSECODE open_reader(DWORD Lun, unsigned long port)
{
	struct sockaddr_in addr;
	struct reader *r = NULL;
	int one = 1, fd;

	if (port == 0 || port > 65535)
		return IFD_COMMUNICATION_ERROR;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return IFD_COMMUNICATION_ERROR;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* cards come from this machine only */
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 4) < 0) {
		close(fd);
		return IFD_COMMUNICATION_ERROR;
	}

	pthread_mutex_lock(&table_lock);
	for (int i = 0; i < MAX_READERS; i++)
		if (!readers[i].used) {
			r = &readers[i];
			break;
		}
	if (r != NULL && pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) == 0) {
		r->used = 1;
		r->key = Lun >> 16;
		r->listen_fd = fd;
		r->card_fd = -1;
		r->card_dead = 0;
		r->reported_present = 0;
		r->removal_unseen = 0;
		r->has_event_thread = 0;
		pthread_mutex_init(&r->io, NULL);
	} else {
		r = NULL;
	}
	pthread_mutex_unlock(&table_lock);
	if (r == NULL) {
		close(fd);
		return IFD_COMMUNICATION_ERROR;
	}
	return IFD_SUCCESS;
}

RESPONSECODE IFDHCreateChannelByName(DWORD Lun, LPSTR DeviceName)
{
	const char *colon = strrchr(DeviceName, ':');

	return open_reader(Lun, strtoul(colon ? colon + 1 : DeviceName, NULL, 0));
}

RESPONSECODE IFDHCreateChannel(DWORD Lun, DWORD Channel)
{
	return open_reader(Lun, Channel);
}

RESPONSECODE IFDHCloseChannel(DWORD Lun)
{
	struct reader *r = find_reader(Lun);

	if (r == NULL)
		return IFD_SUCCESS;
	pthread_mutex_lock(&r->io);
	if (r->card_fd >= 0)
		close(r->card_fd);
	close(r->listen_fd);
	close(r->wake[0]);
	close(r->wake[1]);
	pthread_mutex_unlock(&r->io);
	pthread_mutex_destroy(&r->io);
	pthread_mutex_lock(&table_lock);
	r->used = 0;
	pthread_mutex_unlock(&table_lock);
	return IFD_SUCCESS;
}

/* Copy a value into pcscd's buffer if it fits. */
static RESPONSECODE answer(PDWORD Length, PUCHAR Value, const void *data, DWORD size)
{
	if (*Length < size)
		return IFD_ERROR_INSUFFICIENT_BUFFER;
	memcpy(Value, data, size);
	*Length = size;
	return IFD_SUCCESS;
}

RESPONSECODE IFDHGetCapabilities(DWORD Lun, DWORD Tag, PDWORD Length, PUCHAR Value)
{
	struct reader *r = find_reader(Lun);
	unsigned char one = 1;

	if (r == NULL)
		return IFD_COMMUNICATION_ERROR;
	switch (Tag) {
	case TAG_IFD_ATR:
	case SCARD_ATTR_ATR_STRING: {
		unsigned char atr[MAX_ATR_SIZE];
		unsigned char ctrl = CTRL_GET_ATR;
		DWORD len = sizeof atr;
		RESPONSECODE rv = IFD_SUCCESS;

		pthread_mutex_lock(&r->io);
		if (!card_usable(r))
			rv = IFD_ICC_NOT_PRESENT;
		else if (send_message(r->card_fd, &ctrl, 1) < 0
			 || recv_message(r->card_fd, atr, &len) == -1)
			rv = card_failed(r);
		if (rv == IFD_SUCCESS)
			rv = answer(Length, Value, atr, len);
		pthread_mutex_unlock(&r->io);
		return rv;
	}
	case TAG_IFD_SIMULTANEOUS_ACCESS: {
		/* How many readers this one library serves. Above 1, pcscd numbers the readers
		 * sharing it (the "NN" in "<FRIENDLYNAME> NN 00") and passes that number as
		 * Lun >> 16, which is how `find_reader` tells them apart. */
		unsigned char n = MAX_READERS;

		return answer(Length, Value, &n, 1);
	}
	case TAG_IFD_SLOTS_NUMBER:        /* one slot per reader */
	case TAG_IFD_THREAD_SAFE:         /* each reader has its own lock */
	case TAG_IFD_SLOT_THREAD_SAFE:
		return answer(Length, Value, &one, 1);
	case TAG_IFD_POLLING_THREAD_WITH_TIMEOUT: {
		RESPONSECODE (*fn)(DWORD, int) = wait_for_change;

		return answer(Length, Value, &fn, sizeof fn);
	}
	case TAG_IFD_STOP_POLLING_THREAD: {
		RESPONSECODE (*fn)(DWORD) = stop_waiting;

		return answer(Length, Value, &fn, sizeof fn);
	}
	default:
		return IFD_ERROR_TAG;
	}
}

RESPONSECODE IFDHSetCapabilities(DWORD Lun, DWORD Tag, DWORD Length, PUCHAR Value)
{
	(void)Lun; (void)Tag; (void)Length; (void)Value;
	return IFD_NOT_SUPPORTED;
}

RESPONSECODE IFDHSetProtocolParameters(DWORD Lun, DWORD Protocol, UCHAR Flags,
				       UCHAR PTS1, UCHAR PTS2, UCHAR PTS3)
{
	/* A virtual card takes any protocol its ATR offers: nothing to negotiate on a wire. */
	(void)Lun; (void)Protocol; (void)Flags; (void)PTS1; (void)PTS2; (void)PTS3;
	return IFD_SUCCESS;
}

RESPONSECODE IFDHPowerICC(DWORD Lun, DWORD Action, PUCHAR Atr, PDWORD AtrLength)
{
	struct reader *r = find_reader(Lun);
	unsigned char ctrl, get_atr = CTRL_GET_ATR;
	unsigned char atr[MAX_ATR_SIZE];
	DWORD len = sizeof atr;
	RESPONSECODE rv = IFD_SUCCESS;
	int rc;

	if (r == NULL)
		return IFD_COMMUNICATION_ERROR;
	switch (Action) {
	case IFD_POWER_DOWN: ctrl = CTRL_POWER_OFF; break;
	case IFD_POWER_UP: ctrl = CTRL_POWER_ON; break;
	case IFD_RESET: ctrl = CTRL_RESET; break;
	default: return IFD_NOT_SUPPORTED;
	}
	pthread_mutex_lock(&r->io);
	if (!card_usable(r)) {
		rv = IFD_ICC_NOT_PRESENT;
	} else if (send_message(r->card_fd, &ctrl, 1) < 0) {
		rv = card_failed(r);
	} else if (Action != IFD_POWER_DOWN) {
		/* pcscd wants the ATR of the card it just powered or reset. */
		if (send_message(r->card_fd, &get_atr, 1) < 0)
			rc = -1;
		else
			rc = recv_message(r->card_fd, atr, &len);
		if (rc == -1)
			rv = card_failed(r);
		else if (rc == -2 || len == 0)
			rv = IFD_ERROR_POWER_ACTION;
		else if (AtrLength != NULL && Atr != NULL)
			rv = answer(AtrLength, Atr, atr, len);
	}
	if (Action == IFD_POWER_DOWN && AtrLength != NULL)
		*AtrLength = 0;
	pthread_mutex_unlock(&r->io);
	return rv;
}

RESPONSECODE IFDHTransmitToICC(DWORD Lun, SCARD_IO_HEADER SendPci, PUCHAR TxBuffer,
			       DWORD TxLength, PUCHAR RxBuffer, PDWORD RxLength,
			       PSCARD_IO_HEADER RecvPci)
{
	struct reader *r = find_reader(Lun);
	RESPONSECODE rv = IFD_SUCCESS;
	int rc;

	(void)SendPci;
	if (r == NULL)
		return IFD_COMMUNICATION_ERROR;
	if (TxLength < 2) /* a 1-byte message would read as a control code */
		return IFD_COMMUNICATION_ERROR;
	pthread_mutex_lock(&r->io);
	if (!card_usable(r)) {
		rv = IFD_ICC_NOT_PRESENT;
	} else if (send_message(r->card_fd, TxBuffer, TxLength) < 0) {
		rv = card_failed(r);
	} else {
		rc = recv_message(r->card_fd, RxBuffer, RxLength);
		if (rc == -1)
			rv = card_failed(r);
		else if (rc == -2)
			rv = IFD_ERROR_INSUFFICIENT_BUFFER;
	}
	if (rv != IFD_SUCCESS)
		*RxLength = 0;
	else if (RecvPci != NULL)
		RecvPci->Protocol = SendPci.Protocol;
	pthread_mutex_unlock(&r->io);
	return rv;
}

RESPONSECODE IFDHControl(DWORD Lun, DWORD dwControlCode, PUCHAR TxBuffer, DWORD TxLength,
			 PUCHAR RxBuffer, DWORD RxLength, LPDWORD pdwBytesReturned)
{
	(void)Lun; (void)dwControlCode; (void)TxBuffer; (void)TxLength;
	(void)RxBuffer; (void)RxLength;
	if (pdwBytesReturned != NULL)
		*pdwBytesReturned = 0;
	return IFD_ERROR_NOT_SUPPORTED;
}

/* pcscd asks from its event thread, which acts on the answer (a change is an event for
 * every client), and from client threads before powering the card, which only read it.
 * Only the event thread's calls move the slot's state on: a card that left and came back
 * between two of its calls is first reported absent once, so pcscd counts the removal. */
RESPONSECODE IFDHICCPresence(DWORD Lun)
{
	struct reader *r = find_reader(Lun);
	int present;

	if (r == NULL)
		return IFD_COMMUNICATION_ERROR;
	pthread_mutex_lock(&r->io);
	if (r->has_event_thread && !pthread_equal(r->event_thread, pthread_self())) {
		present = card_usable(r);
	} else {
		refresh(r);
		present = !r->removal_unseen && r->card_fd >= 0;
		r->removal_unseen = 0;
		r->reported_present = present;
	}
	pthread_mutex_unlock(&r->io);
	return present ? IFD_ICC_PRESENT : IFD_ICC_NOT_PRESENT;
}
