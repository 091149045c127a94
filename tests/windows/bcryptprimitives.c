/* TEST-ONLY stand-in for Windows' bcryptprimitives.dll, which Debian 12's
 * Wine 8 lacks. Rust's standard library imports ProcessPrng from it on
 * Windows, so no Rust program starts under that Wine without it. This answers
 * ProcessPrng with BCryptGenRandom (which Wine has). Windows 10 and later ship
 * the real DLL: this file is never built into, or shipped with, the product
 * (tests/windows/wine-run puts it beside test programs only). */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
