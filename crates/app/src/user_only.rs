//! Windows: things only the current user can open: the app's named pipe
//! (its security descriptor, and the check that a pipe of that name is the
//! user's own) and the data folder (a protected access list naming the user
//! alone, inherited by every file in it); and who is at the other end of the
//! pipe (the client's process, its program, the process that started it).
//!
//! The one place in the workspace with `unsafe` code: Windows' security API
//! has no safe wrapper in the crates we ship (tokio takes the descriptor as a
//! raw pointer). Each call is commented with what makes it sound.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::os::windows::io::RawHandle;
use std::path::Path;

use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSecurityDescriptorToStringSecurityDescriptorW, ConvertSidToStringSidW,
    ConvertStringSecurityDescriptorToSecurityDescriptorW, GetNamedSecurityInfoW, GetSecurityInfo, SDDL_REVISION_1,
    SE_FILE_OBJECT, SE_KERNEL_OBJECT, SetNamedSecurityInfoW,
};
use windows_sys::Win32::Security::{
    ACL, DACL_SECURITY_INFORMATION, GetSecurityDescriptorDacl, GetTokenInformation, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER,
    TokenUser,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// A descriptor that makes the current user the owner and allows that user
/// alone everything: `O:<SID>D:P(A;;GA;;;<SID>)` (protected: nothing inherited).
pub(crate) struct UserOnly {
    descriptor: Descriptor,
}

/// A descriptor from its text form (SDDL), freed when dropped.
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Descriptor {
    fn from_sddl(sddl: &str) -> std::io::Result<Self> {
        let sddl = wide(sddl);
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `sddl` is a NUL-terminated UTF-16 string that outlives the
        // call; `descriptor` is a valid place for the result, which Windows
        // allocates with LocalAlloc (freed in `drop`).
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &raw mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self(descriptor))
    }

    /// Its access list (inside it: valid while `self` lives).
    fn dacl(&self) -> std::io::Result<*mut ACL> {
        let (mut present, mut defaulted, mut dacl) = (0, 0, std::ptr::null_mut());
        // SAFETY: `self.0` is a valid descriptor; the out-pointers are valid places.
        let ok = unsafe { GetSecurityDescriptorDacl(self.0, &raw mut present, &raw mut dacl, &raw mut defaulted) };
        if ok == 0 || present == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(dacl)
    }
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: allocated with LocalAlloc by Windows, freed exactly once here.
        unsafe { LocalFree(self.0) };
    }
}

/// Make `folder` this user's alone: a protected access list with one entry,
/// full control for the user, inherited by everything created in it
/// (`D:P(A;OICI;FA;;;<SID>)`). What was inherited from the parent (other
/// users, administrators) no longer applies.
pub(crate) fn protect_folder(folder: &Path) -> std::io::Result<()> {
    let sid = current_user_sid()?;
    let descriptor = Descriptor::from_sddl(&format!("D:P(A;OICI;FA;;;{sid})"))?;
    let name = wide(&folder.to_string_lossy());
    // SAFETY: `name` is NUL-terminated UTF-16; the access list lives inside
    // `descriptor`, alive for the call; Windows copies what it needs.
    let error = unsafe {
        SetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            descriptor.dacl()?,
            std::ptr::null(),
        )
    };
    win32(error)
}

/// Who, besides this user, may open `folder`: the SIDs its access list
/// allows (empty: this user's alone).
pub(crate) fn others_allowed(folder: &Path) -> std::io::Result<Vec<String>> {
    let name = wide(&folder.to_string_lossy());
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated UTF-16; `descriptor` receives a
    // LocalAlloc'd block (owned by `Descriptor` below).
    let error = unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &raw mut descriptor,
        )
    };
    win32(error)?;
    let descriptor = Descriptor(descriptor);
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `descriptor.0` is valid; `text` receives a LocalAlloc'd string.
    let ok = unsafe {
        ConvertSecurityDescriptorToStringSecurityDescriptorW(
            descriptor.0,
            SDDL_REVISION_1,
            DACL_SECURITY_INFORMATION,
            &raw mut text,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: NUL-terminated UTF-16 from Windows, freed once after reading.
    let sddl = unsafe { take_wide(text) };
    let me = current_user_sid()?;
    Ok(allowed_sids(&sddl).into_iter().filter(|sid| *sid != me).collect())
}

/// The trustees of the allow entries (`(A;…;…;…;…;<SID>)`) of an SDDL text.
fn allowed_sids(sddl: &str) -> Vec<String> {
    sddl.split('(')
        .filter_map(|ace| ace.split(')').next())
        .filter(|ace| ace.starts_with("A;"))
        .filter_map(|ace| ace.rsplit(';').next())
        .map(str::to_owned)
        .collect()
}

fn win32(error: u32) -> std::io::Result<()> {
    if error == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(
            i32::try_from(error).unwrap_or(i32::MAX),
        ))
    }
}

/// Read a NUL-terminated UTF-16 string Windows allocated with LocalAlloc, and free it.
///
/// # Safety
/// `text` must be such a string, not used after this call.
unsafe fn take_wide(text: *mut u16) -> String {
    let mut len = 0;
    // SAFETY: (the caller's promise) NUL-terminated: read up to the NUL.
    while unsafe { *text.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` u16s were just read from `text`.
    let out = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
    // SAFETY: allocated with LocalAlloc, freed once (the caller's promise).
    unsafe { LocalFree(text.cast::<c_void>()) };
    out
}

// SAFETY: the descriptor is written once by Windows in `current_user` and only
// read afterwards (by CreateNamedPipeW, which copies it); it is freed once, when dropped.
unsafe impl Send for UserOnly {}
// SAFETY: as above: shared use only reads it.
unsafe impl Sync for UserOnly {}

impl UserOnly {
    pub(crate) fn current_user() -> std::io::Result<Self> {
        let sid = current_user_sid()?;
        let descriptor = Descriptor::from_sddl(&format!("O:{sid}D:P(A;;GA;;;{sid})"))?;
        Ok(Self { descriptor })
    }

    /// A new instance of the pipe `name` (the first one when `first`),
    /// refusing clients from other computers.
    pub(crate) fn create(&self, name: &Path, first: bool) -> std::io::Result<NamedPipeServer> {
        let mut attributes = SECURITY_ATTRIBUTES {
            nLength: u32::try_from(std::mem::size_of::<SECURITY_ATTRIBUTES>()).unwrap_or(u32::MAX),
            lpSecurityDescriptor: self.descriptor.0,
            bInheritHandle: 0,
        };
        // SAFETY: `attributes` is a valid SECURITY_ATTRIBUTES for the duration
        // of the call, pointing at the descriptor this value owns.
        unsafe {
            ServerOptions::new()
                .first_pipe_instance(first)
                .reject_remote_clients(true)
                .create_with_security_attributes_raw(name, (&raw mut attributes).cast::<c_void>())
        }
    }
}

/// The current user's SID as text (`S-1-5-21-…`).
pub(crate) fn current_user_sid() -> std::io::Result<String> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing;
    // `token` is a valid place for the opened token, closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &raw mut token) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let sid = token_user_sid(token);
    // SAFETY: `token` was opened above and is closed once.
    unsafe { CloseHandle(token) };
    sid
}

fn token_user_sid(token: HANDLE) -> std::io::Result<String> {
    let mut needed = 0u32;
    // SAFETY: a size query: no buffer, `needed` receives the size.
    unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &raw mut needed) };
    // u64s, so the buffer is aligned for TOKEN_USER (pointer-aligned).
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    let size = u32::try_from(buffer.len() * 8).unwrap_or(u32::MAX);
    // SAFETY: `buffer` holds `size` writable bytes, aligned for TOKEN_USER.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast::<c_void>(),
            size,
            &raw mut needed,
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: Windows wrote a TOKEN_USER at the start of `buffer`, whose SID
    // pointer points inside `buffer`, alive for this function.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    sid_text(sid)
}

/// Whether the pipe behind `handle` belongs to the current user. The app's
/// pipe does (see [`UserOnly`]); a pipe of that name that another user made
/// first, to pose as the app, does not, and the helper does not talk to it.
pub(crate) fn owned_by_current_user(handle: RawHandle) -> std::io::Result<bool> {
    let mut owner: PSID = std::ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `handle` is an open pipe handle (read access includes
    // READ_CONTROL); `owner` and `descriptor` receive pointers into one
    // LocalAlloc'd block, freed below.
    let error = unsafe {
        GetSecurityInfo(
            handle,
            SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &raw mut owner,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &raw mut descriptor,
        )
    };
    if error != 0 {
        return Err(std::io::Error::from_raw_os_error(
            i32::try_from(error).unwrap_or(i32::MAX),
        ));
    }
    let owner = sid_text(owner);
    // SAFETY: allocated by GetSecurityInfo with LocalAlloc, freed once; `owner`
    // (inside it) is not used after this.
    unsafe { LocalFree(descriptor) };
    Ok(owner? == current_user_sid()?)
}

/// A SID as text (`S-1-5-21-…`).
fn sid_text(sid: PSID) -> std::io::Result<String> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is valid (above); `text` receives a LocalAlloc'd string.
    if unsafe { ConvertSidToStringSidW(sid, &raw mut text) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: NUL-terminated UTF-16 from Windows, LocalAlloc'd, not used after.
    Ok(unsafe { take_wide(text) })
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

/// The process at the client end of `pipe`.
pub(crate) fn pipe_client_pid(pipe: &NamedPipeServer) -> Option<u32> {
    use std::os::windows::io::AsRawHandle;
    let mut pid = 0u32;
    // SAFETY: the handle is the live pipe `pipe` owns (borrowed for the call);
    // `pid` is a valid place for the answer.
    let ok = unsafe {
        windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId(pipe.as_raw_handle() as HANDLE, &raw mut pid)
    };
    (ok != 0 && pid != 0).then_some(pid)
}

/// The program file of process `pid` and the process that started it.
pub(crate) fn process(pid: u32) -> Option<(std::path::PathBuf, Option<u32>)> {
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
    };
    use windows_sys::Win32::System::Threading::{
        OpenProcess, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION, QueryFullProcessImageNameW,
    };
    // SAFETY: asking for a handle to another process; null when refused.
    let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if handle.is_null() {
        return None;
    }
    let mut buffer = vec![0u16; 32_768];
    let mut len = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
    // SAFETY: `handle` is the open process handle above; `buffer` holds `len`
    // UTF-16 units and `len` is updated to what was written.
    let ok = unsafe { QueryFullProcessImageNameW(handle, PROCESS_NAME_WIN32, buffer.as_mut_ptr(), &raw mut len) };
    // SAFETY: the handle opened above, closed once.
    unsafe { CloseHandle(handle) };
    if ok == 0 {
        return None;
    }
    let program = std::path::PathBuf::from(String::from_utf16_lossy(&buffer[..len as usize]));
    // SAFETY: a snapshot of the process list, closed below.
    let snapshot = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    let mut parent = None;
    if !snapshot.is_null() && snapshot != windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE {
        // SAFETY: PROCESSENTRY32W is plain data; all zeroes is a valid value.
        let mut entry: PROCESSENTRY32W = unsafe { std::mem::zeroed() };
        entry.dwSize = u32::try_from(std::mem::size_of::<PROCESSENTRY32W>()).unwrap_or(0);
        // SAFETY: `snapshot` is valid and `entry` is sized as the API requires.
        let mut more = unsafe { Process32FirstW(snapshot, &raw mut entry) } != 0;
        while more {
            if entry.th32ProcessID == pid {
                parent = Some(entry.th32ParentProcessID).filter(|p| *p != 0);
                break;
            }
            // SAFETY: as above.
            more = unsafe { Process32NextW(snapshot, &raw mut entry) } != 0;
        }
        // SAFETY: the snapshot handle, closed once.
        unsafe { CloseHandle(snapshot) };
    }
    Some((program, parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_entries_name_their_trustees() {
        let sddl = "D:P(A;OICI;FA;;;S-1-5-21-1-2-3-1000)(D;;FA;;;S-1-1-0)(A;;0x1200a9;;;BA)";
        assert_eq!(allowed_sids(sddl), ["S-1-5-21-1-2-3-1000", "BA"]);
    }

    /// Wine (where this suite runs here) accepts a folder's access list but
    /// keeps its own, drawn from the Unix mode bits: there, the call is checked;
    /// on Windows (the release workflow's Windows job), what it does.
    fn under_wine() -> bool {
        Path::new(r"C:\windows\system32\winecfg.exe").exists()
    }

    #[test]
    fn a_protected_folder_is_this_user_s_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("data");
        std::fs::create_dir(&folder).expect("folder");
        protect_folder(&folder).expect("protect");
        if under_wine() {
            assert!(others_allowed(&folder).is_ok(), "the access list reads back");
            return;
        }
        assert_eq!(others_allowed(&folder).expect("read"), Vec::<String>::new());
        // Files made inside inherit it.
        std::fs::write(folder.join("messages.db"), b"x").expect("file");
        assert_eq!(
            others_allowed(&folder.join("messages.db")).expect("read"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_user_s_sid_reads_as_text() {
        let sid = current_user_sid().expect("sid");
        assert!(sid.starts_with("S-1-"), "{sid}");
    }
}
