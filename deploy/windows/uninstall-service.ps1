#Requires -RunAsAdministrator
<#
.SYNOPSIS
  Stops and removes the Windows service "patchbay-client" installed by install-service.ps1.

.DESCRIPTION
  Stops the service (an install in flight finishes first: WinSW's stop timeout), removes it
  and the WinSW wrapper and XML from -ServiceDir. The data directory (ledger, cache, installer
  logs, the service's logs) stays unless -RemoveData is given. Nothing to remove is not an
  error, so it can be run again. Exits non-zero naming the step that failed. See docs/windows.md.

.EXAMPLE
  .\uninstall-service.ps1
  .\uninstall-service.ps1 -RemoveData
#>
[CmdletBinding()]
param(
  [string] $DataDir = 'C:\ProgramData\patchbay\client',
  [string] $ServiceDir = 'C:\ProgramData\patchbay\service',
  [switch] $RemoveData
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ServiceName = 'patchbay-client'

try {
  # relative to this shell's location, not .NET's current directory
  $DataDir, $ServiceDir = @($DataDir, $ServiceDir) | ForEach-Object { $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($_) }
  $wrapper = Join-Path $ServiceDir "$ServiceName.exe"
  if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
    Write-Host "stopping $ServiceName (an install in flight finishes first)"
    Stop-Service -Name $ServiceName
    $removal = if (Test-Path -LiteralPath $wrapper) { @($wrapper, 'uninstall') } else { @('sc.exe', 'delete', $ServiceName) }
    & $removal[0] $removal[1..($removal.Length - 1)]
    if ($LASTEXITCODE -ne 0) { throw "removing the service failed: $($removal -join ' ') exited with $LASTEXITCODE" }
    for ($i = 0; (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) -and $i -lt 60; $i++) { Start-Sleep -Seconds 1 }
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
      throw "service $ServiceName is still registered a minute after its removal (a console or services.msc holding it open?)"
    }
  } else {
    Write-Host "no $ServiceName service installed"
  }
  foreach ($file in @($wrapper, (Join-Path $ServiceDir "$ServiceName.xml"))) {
    if (Test-Path -LiteralPath $file) { Remove-Item -LiteralPath $file -Force }
  }
  if ($RemoveData -and (Test-Path -LiteralPath $DataDir)) {
    Remove-Item -LiteralPath $DataDir -Recurse -Force
    Write-Host "removed the data directory $DataDir"
  } elseif (Test-Path -LiteralPath $DataDir) {
    Write-Host "kept the data directory $DataDir (-RemoveData removes it)"
  }
  exit 0
} catch {
  [Console]::Error.WriteLine("uninstall-service.ps1: $($_.Exception.Message)")
  exit 1
}
