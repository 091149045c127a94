; WhatsApp MCP Desktop: the per-user Windows installer (no administrator).
;
; Built on Linux or Windows by installers/windows/build.sh with makensis
; (Debian's `nsis`): our own script, so nothing is downloaded at build time
; (Tauri's bundler fetches NSIS plugins from the internet). It uses only what
; ships with NSIS 3 (MUI2, LogicLib, FileFunc, nsExec).
;
; Defines given by build.sh: VERSION (x.y.z), APP_EXE, HELPER_EXE (the two
; programs), WEBVIEW2_LOADER (the DLL beside the app), ICON, OUT; WEBVIEW2_BOOTSTRAPPER when the release workflow
; downloaded Microsoft's bootstrapper (then a missing WebView2 is installed).
;
; Switches: /S silent (NSIS); /P passive (progress only, no questions) and
; /UPDATE, /R, /ARGS ... as tauri-plugin-updater passes them: after an update
; with /R the app is started again with the arguments after /ARGS.
;
; What it does: copies the app and the helper to
; %LOCALAPPDATA%\Programs\WhatsApp MCP Desktop (a program that is running,
; e.g. the helper Claude Desktop started, is renamed aside, which Windows
; allows, and removed at the next install), a Start menu entry, an entry in
; Settings > Apps. The uninstaller disconnects the assistants (whatsapp-mcp
; unregister), removes the start-at-login entry and the program, and keeps
; the data folder (the message archive and the WhatsApp session).

; A 64-bit installer for the 64-bit programs it installs (x64 Windows, and
; Windows on ARM through its x64 emulation). It also lets the tests run it
; under Debian's wine64, which has no 32-bit side.
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel user
SetCompressor /SOLID lzma
SetCompressorDictSize 128

!define PRODUCT "WhatsApp MCP Desktop"
!define APP_NAME "whatsapp-mcp-desktop.exe"
!define HELPER_NAME "whatsapp-mcp.exe"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${PRODUCT}"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define SETTINGS_KEY "Software\${PRODUCT}"
!define DATA_FOLDER "$APPDATA\whatsappmcp\whatsapp-mcp-desktop"

Name "${PRODUCT}"
OutFile "${OUT}"
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
InstallDirRegKey HKCU "${SETTINGS_KEY}" "InstallDir"
BrandingText "${PRODUCT} ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${PRODUCT} setup"
VIAddVersionKey "LegalCopyright" "MIT License"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_NAME}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${PRODUCT} (it opens the setup: link your WhatsApp, connect Claude)"
!define MUI_WELCOMEPAGE_TEXT "${PRODUCT} lets your AI assistant read, search and (with your approval) send on your WhatsApp, from this computer only.$\r$\n$\r$\nIt installs for you alone, in your user folder: no administrator rights are needed.$\r$\n$\r$\nClick Install to continue."
!define MUI_PAGE_CUSTOMFUNCTION_PRE SkipWhenPassive
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_INSTFILES
!define MUI_PAGE_CUSTOMFUNCTION_PRE SkipWhenPassive
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Var Passive
Var Restart
Var RestartArgs

Function .onInit
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/P" $1
  ${IfNot} ${Errors}
    StrCpy $Passive 1
  ${EndIf}
  ClearErrors
  ${GetOptions} $0 "/R" $1
  ${IfNot} ${Errors}
    StrCpy $Restart 1
  ${EndIf}
  ClearErrors
  ${GetOptions} $0 "/ARGS" $RestartArgs
FunctionEnd

Function SkipWhenPassive
  ${If} $Passive == 1
    Abort
  ${EndIf}
FunctionEnd

; The app in the tray keeps its program open: ask it to stop, then make it.
; Its archive is safe against being stopped at any moment (tests/fault_campaign.py).
!macro StopApp
  nsExec::Exec 'taskkill /IM "${APP_NAME}"'
  Pop $0
  Sleep 1000
  nsExec::Exec 'taskkill /F /IM "${APP_NAME}"'
  Pop $0
!macroend

; A program still running (the helper an assistant started) cannot be
; replaced, but it can be renamed: move it aside; the next install removes it.
!macro SetAside NAME
  ${If} ${FileExists} "$INSTDIR\${NAME}"
    Delete "$INSTDIR\${NAME}"
    ${If} ${FileExists} "$INSTDIR\${NAME}"
      ${GetTime} "" "L" $0 $1 $2 $3 $4 $5 $6
      Rename "$INSTDIR\${NAME}" "$INSTDIR\${NAME}.$2$1$0$4$5$6.old"
    ${EndIf}
  ${EndIf}
!macroend

Section "Install"
  SetOutPath "$INSTDIR"
  ; After an update the app that started us is exiting already.
  !insertmacro StopApp
  Delete "$INSTDIR\*.old"
  !insertmacro SetAside "${APP_NAME}"
  !insertmacro SetAside "${HELPER_NAME}"
  !insertmacro SetAside "WebView2Loader.dll"
  File "/oname=${APP_NAME}" "${APP_EXE}"
  File "/oname=${HELPER_NAME}" "${HELPER_EXE}"
  ; The app built with mingw-w64 loads WebView2 through Microsoft's loader DLL.
  File "/oname=WebView2Loader.dll" "${WEBVIEW2_LOADER}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortCut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\${APP_NAME}"

  WriteRegStr HKCU "${SETTINGS_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" $0

  ; WebView2 draws the window (Windows 11 has it; Windows 10 gets it with Edge updates).
  ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}" "pv"
  ${If} $0 == ""
    ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}" "pv"
  ${EndIf}
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
!ifdef WEBVIEW2_BOOTSTRAPPER
    DetailPrint "Installing Microsoft Edge WebView2, which draws the app's window..."
    File "/oname=$PLUGINSDIR\MicrosoftEdgeWebview2Setup.exe" "${WEBVIEW2_BOOTSTRAPPER}"
    ExecWait '"$PLUGINSDIR\MicrosoftEdgeWebview2Setup.exe" /silent /install'
!else
    DetailPrint "Microsoft Edge WebView2 is missing: the app's window needs it (https://go.microsoft.com/fwlink/p/?LinkId=2124703). Assistants work without it."
!endif
  ${EndIf}

  ${If} $Restart == 1
    Exec '"$INSTDIR\${APP_NAME}" $RestartArgs'
  ${EndIf}
SectionEnd

Function un.onInit
  SetShellVarContext current
FunctionEnd

Section "Uninstall"
  !insertmacro StopApp
  ; Disconnect the assistants (only our entry; their other servers stay).
  ${If} ${FileExists} "$INSTDIR\${HELPER_NAME}"
    nsExec::ExecToLog '"$INSTDIR\${HELPER_NAME}" unregister'
    Pop $0
  ${EndIf}
  DeleteRegValue HKCU "${RUN_KEY}" "${PRODUCT}"
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run" "${PRODUCT}"
  Delete "$INSTDIR\${APP_NAME}"
  Delete "$INSTDIR\${HELPER_NAME}"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\*.old"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "${SETTINGS_KEY}"
  ; The data folder stays: the archive cannot be fetched again from WhatsApp.
  DetailPrint "Your messages and settings are kept in ${DATA_FOLDER}. Delete that folder to remove them too."
SectionEnd
