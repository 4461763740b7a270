#Requires -RunAsAdministrator
<#
.SYNOPSIS
  Installs (or re-installs) the patchbay client daemon as the Windows service "patchbay-client".

.DESCRIPTION
  Node.js cannot answer the Service Control Manager itself, so WinSW 2.x (download
  WinSW-x64.exe from https://github.com/winsw/winsw/releases and pass it as -WinSWExe) wraps it.
  The script: checks its inputs; makes the config's, data and service directories owned by
  Administrators and readable only by SYSTEM and Administrators (icacls, by SID); stops and
  removes an earlier install of the service; copies WinSW as patchbay-client.exe beside patchbay-client.xml (written from
  this directory's template with the paths given); installs the service; sets its recovery
  (sc.exe failure, sc.exe failureflag); starts it. Run it again to apply changed paths.
  Exits non-zero naming the step that failed. See docs/windows.md.

.EXAMPLE
  .\install-service.ps1 -WinSWExe C:\Downloads\WinSW-x64.exe
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true)] [string] $WinSWExe,
  [string] $NodeExe = 'C:\Program Files\nodejs\node.exe',
  [string] $PatchbayDir = 'C:\Program Files\patchbay',
  [string] $ConfigFile = 'C:\ProgramData\patchbay\client.json',
  [string] $DataDir = 'C:\ProgramData\patchbay\client',
  [string] $ServiceDir = 'C:\ProgramData\patchbay\service',
  [string] $XmlTemplate = (Join-Path $PSScriptRoot 'patchbay-client.xml')
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ServiceName = 'patchbay-client'
# SYSTEM and Administrators by SID: the names differ by the system's language, the SIDs do not.
$PrivateGrants = @('*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F')

# A native program's failure is its exit code, which $ErrorActionPreference does not see.
function Invoke-Checked([string] $Step, [string] $Program, [string[]] $Arguments) {
  & $Program @Arguments
  if ($LASTEXITCODE -ne 0) { throw "$Step failed: $Program $($Arguments -join ' ') exited with $LASTEXITCODE" }
}

function Assert-File([string] $What, [string] $Path) {
  if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { throw "$What not found: $Path" }
}

# A path as given, relative to this shell's location (not .NET's current directory, which differs).
function Get-FullPath([string] $Path) { $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path) }

# Only SYSTEM and Administrators, nothing inherited, owned by Administrators; never on a drive
# root or ProgramData itself. Ownership first, for the whole tree: a user may have made the
# directory (or a file in it) before the admin did, and an owner can always rewrite its ACL.
# Then everything below only inherits (/reset), and the directory itself is made private.
function Set-PrivateAcl([string] $Dir) {
  $full = Get-FullPath $Dir
  if ([IO.Path]::GetPathRoot($full) -eq $full) { throw "refusing to restrict a drive root: $full" }
  if ($full.TrimEnd('\') -eq $env:ProgramData.TrimEnd('\')) { throw "refusing to restrict ProgramData itself: $full" }
  Invoke-Checked "making Administrators the owner of $full" "$env:SystemRoot\System32\icacls.exe" @($full, '/setowner', '*S-1-5-32-544', '/T', '/C', '/Q')
  if (Get-ChildItem -LiteralPath $full -Force | Select-Object -First 1) {
    Invoke-Checked "resetting what is below $full to inherited rights" "$env:SystemRoot\System32\icacls.exe" @("$full\*", '/reset', '/T', '/C', '/Q')
  }
  Invoke-Checked "restricting $full to SYSTEM and Administrators" "$env:SystemRoot\System32\icacls.exe" (@($full, '/inheritance:r', '/grant:r') + $PrivateGrants)
}

function Wait-ServiceGone([string] $Name) {
  for ($i = 0; $i -lt 60; $i++) {
    if (-not (Get-Service -Name $Name -ErrorAction SilentlyContinue)) { return }
    Start-Sleep -Seconds 1
  }
  throw "service $Name is still registered a minute after its removal (a console or services.msc holding it open?)"
}

try {
  $WinSWExe, $NodeExe, $PatchbayDir, $ConfigFile, $DataDir, $ServiceDir, $XmlTemplate =
    @($WinSWExe, $NodeExe, $PatchbayDir, $ConfigFile, $DataDir, $ServiceDir, $XmlTemplate) | ForEach-Object { Get-FullPath $_ }
  $clientJs = Join-Path $PatchbayDir 'packages\client-daemon\bin\patchbay-client.js'
  Assert-File 'WinSW (-WinSWExe)' $WinSWExe
  Assert-File 'Node.js (-NodeExe)' $NodeExe
  Assert-File 'patchbay-client.js under -PatchbayDir' $clientJs
  Assert-File 'the client config (-ConfigFile)' $ConfigFile
  Assert-File 'the WinSW XML template (-XmlTemplate)' $XmlTemplate

  $logDir = Join-Path $DataDir 'service-logs'
  foreach ($dir in @($DataDir, $logDir, $ServiceDir)) { New-Item -ItemType Directory -Force -Path $dir | Out-Null }
  # the directory holding the config (and, in the default layout, the two below): whoever may
  # write there could swap client.json (and so trust.root) or a directory the service runs from
  Set-PrivateAcl (Split-Path -Parent $ConfigFile)
  # the data (ledger, token, installer logs) and the wrapper that runs as SYSTEM: admins only
  Set-PrivateAcl $DataDir
  Set-PrivateAcl $ServiceDir

  $wrapper = Join-Path $ServiceDir "$ServiceName.exe"
  if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
    Write-Host "stopping and removing the installed $ServiceName service (an install in flight finishes first)"
    Stop-Service -Name $ServiceName
    if (Test-Path -LiteralPath $wrapper) { Invoke-Checked 'removing the earlier service' $wrapper @('uninstall') }
    else { Invoke-Checked 'removing the earlier service' 'sc.exe' @('delete', $ServiceName) }
    Wait-ServiceGone $ServiceName
  }

  Copy-Item -LiteralPath $WinSWExe -Destination $wrapper -Force
  [xml] $xml = Get-Content -LiteralPath $XmlTemplate -Raw
  $xml.service.executable = $NodeExe
  $xml.service.arguments = "`"$clientJs`" --config `"$ConfigFile`" run"
  $xml.service.workingdirectory = $DataDir
  $xml.service.logpath = $logDir
  $xml.Save((Join-Path $ServiceDir "$ServiceName.xml"))

  Invoke-Checked 'installing the service' $wrapper @('install')
  # The SCM's recovery, whatever WinSW made of <onfailure>: restart after 60 s, 60 s, 5 min;
  # the count reset after a day; an exit with an error code counts as a failure too.
  Invoke-Checked 'setting the recovery actions' 'sc.exe' @('failure', $ServiceName, 'reset=', '86400', 'actions=', 'restart/60000/restart/60000/restart/300000')
  Invoke-Checked 'counting error exits as failures' 'sc.exe' @('failureflag', $ServiceName, '1')
  Invoke-Checked 'starting the service' $wrapper @('start')
  & sc.exe queryex $ServiceName
  Write-Host "installed and started $ServiceName; its log: $logDir"
  exit 0
} catch {
  [Console]::Error.WriteLine("install-service.ps1: $($_.Exception.Message)")
  exit 1
}
